#include "models/synthetic_training.h"

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/optim/adamw.h"
#include "engine/optim/lr_schedule.h"
#include "models/depthwise_net.h"
#include "models/synthetic.h"

#include <chrono>

namespace cxr {

SyntheticTrainingResult train_synthetic(const SyntheticTrainingOptions& o,
                                        const std::function<void(int, double)>& on_step) {
  NetConfig config = NetConfig::cxr_small().narrowed(o.width);
  config.input_size = o.image_size;
  DepthwiseSeparableNet net(config, o.seed + 1);
  ParameterSet params(net, o.seed);
  AdamW opt(params, AdamWOptions{o.lr, 0.9, 0.999, 1e-8, 1e-4});
  CosineWarmupSchedule schedule{o.lr, o.steps / 10, o.steps, o.lr * 0.05};
  Generator data(o.seed + 2);

  SyntheticTrainingResult result;
  const auto start = std::chrono::steady_clock::now();
  net.train();
  for (int step = 0; step < o.steps; ++step) {
    const LabelledBatch batch = make_synthetic_batch(o.batch, o.image_size, data);
    params.zero_grad();
    Tensor loss = cross_entropy(net.forward(batch.images), batch.labels);
    loss.backward();
    opt.set_lr(schedule.lr_at(step));
    opt.step();
    result.losses.push_back(loss.item());
    if (on_step) on_step(step, result.losses.back());
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.images_per_second = o.steps * o.batch / result.seconds;

  NoGradGuard no_grad;
  net.eval();
  Generator test_data(o.seed + 3);
  const LabelledBatch test = make_synthetic_batch(o.test_images, o.image_size, test_data);
  const Tensor logits = net.forward(test.images);
  int correct = 0;
  for (int i = 0; i < o.test_images; ++i) {
    int best = 0;
    for (int c = 1; c < config.num_classes; ++c)
      if (logits.at(i * config.num_classes + c) > logits.at(i * config.num_classes + best)) best = c;
    correct += best == test.labels[i];
  }
  result.test_accuracy = static_cast<double>(correct) / o.test_images;
  return result;
}

}  // namespace cxr
