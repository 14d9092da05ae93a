// End-to-end: the reference net learns, and training is reproducible bit for bit.
#include "base/parallel.h"
#include "engine/autograd.h"
#include "engine/optim/adamw.h"
#include "models/depthwise_net.h"
#include "models/synthetic.h"
#include "models/synthetic_training.h"

#include <gtest/gtest.h>

using namespace cxr;

namespace {

TEST(Training, NarrowedReferenceNetLearnsTheSyntheticTask) {
  SyntheticTrainingOptions o;  // width 0.25, 32x32 images, 600 steps of 32
  const auto result = train_synthetic(o);
  RecordProperty("seconds", std::to_string(result.seconds));
  std::printf("trained in %.1f s, held-out accuracy %.3f\n", result.seconds, result.test_accuracy);
  // Chance is 25%; the task is separable, so a working engine gets it nearly all right.
  EXPECT_GT(result.test_accuracy, 0.95);
  EXPECT_LT(result.losses.back(), result.losses.front());
}

// Three AdamW steps of the full-width reference net on small inputs.
std::vector<double> three_step_losses(std::uint64_t seed) {
  DepthwiseSeparableNet net(NetConfig::cxr_small(), seed + 1);
  ParameterSet params(net, seed);
  AdamW opt(params, AdamWOptions{});
  Generator data(seed + 2);
  std::vector<double> losses;
  for (int step = 0; step < 3; ++step) {
    const LabelledBatch batch = make_synthetic_batch(4, 48, data);
    params.zero_grad();
    Tensor loss = cross_entropy(net.forward(batch.images), batch.labels);
    loss.backward();
    opt.step();
    losses.push_back(loss.item());
  }
  return losses;
}

TEST(Training, SameSeedAndThreadCountGiveBitIdenticalLosses) {
  const auto a = three_step_losses(5);
  const auto b = three_step_losses(5);
  ASSERT_EQ(a.size(), 3u);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << "step " << i;  // exact
  const auto c = three_step_losses(6);
  EXPECT_NE(a[0], c[0]);  // and the seed does matter
}

TEST(Training, SingleThreadRunIsAlsoReproducible) {
  const int threads = num_threads();
  set_num_threads(1);
  const auto a = three_step_losses(7);
  const auto b = three_step_losses(7);
  set_num_threads(threads);
  EXPECT_EQ(a, b);
}

}  // namespace
