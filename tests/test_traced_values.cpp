// The values the graph trace keeps for the web step view (engine/graph_trace.h):
// a few of every op's output, input and output gradient, against an independent
// float64 recomputation of a small graph, and inside a recorded training step
// against the step's own loss and the producing op's values.
#include "finetune_fixtures.h"
#include "random_tensors.h"

#include "engine/graph_trace.h"
#include "engine/ops.h"
#include "models/step_inspection.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>

using namespace cxr;

namespace {
Tensor random(Shape shape, std::uint64_t seed, bool requires_grad = true) {
  Generator gen(seed);
  return cxr::testing::random_tensor(std::move(shape), gen, DType::F32).set_requires_grad(requires_grad);
}
}  // namespace

// h = x W^T + b, r = relu(h), J = sum(3 r): every sampled number recomputed in double.
TEST(TracedValues, EqualAFloat64RecomputationOfASmallGraph) {
  const int N = 5, in = 6, out = 4;
  const Tensor x = random({N, in}, 1), w = random({out, in}, 2), b = random({out}, 3);
  GraphTrace trace;
  {
    GraphTraceScope scope(trace);
    const Tensor r = relu(linear(x, w, b));
    sum(mul_scalar(r, 3)).backward();
  }
  const auto& nodes = trace.nodes();
  ASSERT_EQ(nodes.size(), 4u);  // linear, relu, mul_scalar, sum
  std::vector<double> h(N * out), r(N * out);
  for (int i = 0; i < N; ++i)
    for (int j = 0; j < out; ++j) {
      double acc = b.at(j);
      for (int k = 0; k < in; ++k) acc += x.at(i * in + k) * w.at(j * in + k);
      h[i * out + j] = acc;
      r[i * out + j] = std::max(acc, 0.0);
    }
  const TracedNode &lin = nodes[0], &act = nodes[1];
  ASSERT_EQ(lin.sample_index.size(), static_cast<std::size_t>(kTracedValues));
  EXPECT_TRUE(lin.sample_input.empty());  // x has 30 values, h 20: no elementwise pairing
  for (std::size_t s = 0; s < lin.sample_index.size(); ++s) {
    const auto i = static_cast<std::size_t>(lin.sample_index[s]);
    EXPECT_EQ(i, s * (N * out) / kTracedValues);
    SCOPED_TRACE(i);
    // float32 sums of 6 products of values in [-1, 1] plus a bias: within 1e-6.
    EXPECT_NEAR(lin.sample_output[s], h[i], 1e-6);
    // dJ/dh = 3 where h > 0, else 0; dJ/dr = 3: exact in float32.
    EXPECT_EQ(lin.sample_gradient[s], h[i] > 0 ? 3.0 : 0.0);
    EXPECT_EQ(act.sample_index[s], lin.sample_index[s]);
    EXPECT_EQ(act.sample_input[s], lin.sample_output[s]);  // relu's input is h itself
    EXPECT_NEAR(act.sample_output[s], r[i], 1e-6);
    EXPECT_EQ(act.sample_gradient[s], 3.0);
  }
  // sum's output is J, its gradient the seed.
  ASSERT_EQ(nodes[3].sample_output.size(), 1u);
  double J = 0;
  for (const double v : r) J += 3 * v;
  EXPECT_NEAR(nodes[3].sample_output[0], J, 1e-5 * J);
  EXPECT_EQ(nodes[3].sample_gradient, std::vector<double>{1.0});
}

TEST(TracedValues, OfATrainingStepAgreeWithTheLossAndTheProducingOps) {
  LoadedModel model = test::tiny_four_class_model(32, 7);
  const Tensor images = random({4, 1, 32, 32}, 13, false);
  const StepInspection step =
      inspect_training_step(*model.net, *model.params, images, {0, 1, 2, 3}, model.info.class_names, 1e-3, 1e-4);
  const auto& nodes = step.trace.nodes();
  const TracedNode& loss = nodes.back();
  EXPECT_EQ(loss.sample_output, std::vector<double>{step.loss});
  EXPECT_EQ(loss.sample_gradient, std::vector<double>{1.0});
  int paired = 0;
  for (const TracedNode& n : nodes) {
    SCOPED_TRACE(n.op + " " + std::to_string(n.id));
    const auto k = std::min<std::size_t>(kTracedValues, static_cast<std::size_t>(shape_numel(n.output_shape)));
    EXPECT_EQ(n.sample_index.size(), k);
    EXPECT_EQ(n.sample_output.size(), k);
    EXPECT_EQ(n.sample_gradient.size(), k);  // every op is on the loss's path
    if (n.op.ends_with("relu") || n.op.ends_with("relu2d")) {
      for (const double v : n.sample_output) EXPECT_GE(v, 0.0);
    }
    // An elementwise op's input samples are its producer's output samples, bit for bit.
    const TracedInput& first = n.inputs.at(0);
    if (!n.sample_input.empty() && first.node >= 0) {
      EXPECT_EQ(n.sample_input, nodes[static_cast<std::size_t>(first.node)].sample_output);
      ++paired;
    }
  }
  EXPECT_GT(paired, 5);
  // The JSON carries them as they are.
  const boost::json::object json = to_json(step);
  const auto& first = json.at("nodes").as_array().at(0).at("values").as_object();
  EXPECT_EQ(first.at("output").as_array().size(), nodes[0].sample_output.size());
  EXPECT_EQ(first.at("gradient").as_array().at(1).as_double(), nodes[0].sample_gradient[1]);
  EXPECT_EQ(first.at("index").as_array().at(1).as_int64(), nodes[0].sample_index[1]);
}
