// Per-kernel roofline of `cxr inspect --step` (models/op_cost.h, models/roofline.h):
// the FLOP and byte counts of convolution, depthwise convolution, linear and batch
// norm against the textbook formulas written out here from the ops' arguments, the
// share of the roofline recomputed from each node's own JSON numbers, and a roofline
// measurement that gives sane, positive ceilings.
#include "finetune_fixtures.h"
#include "random_tensors.h"

#include "base/parallel.h"
#include "engine/graph_trace.h"
#include "engine/ops.h"
#include "models/op_cost.h"
#include "models/roofline.h"
#include "models/step_inspection.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <functional>

using namespace cxr;

namespace {

constexpr double kFloat = 4;  // bytes per float32

// Traces `op` and the backward of the sum of its output; returns the op's node.
TracedNode traced(const std::function<Tensor()>& op) {
  GraphTrace trace;
  {
    GraphTraceScope scope(trace);
    sum(op()).backward();
  }
  EXPECT_EQ(trace.nodes().size(), 2u);  // the op, then sum
  return trace.nodes().at(0);
}

Tensor random(Shape shape, std::uint64_t seed, bool requires_grad = true) {
  Generator gen(seed);
  return cxr::testing::random_tensor(std::move(shape), gen, DType::F32).set_requires_grad(requires_grad);
}

}  // namespace

TEST(OpCost, DenseConvolutionIsTwiceTheMultiplyAddsPerGradient) {
  const int N = 2, C_in = 3, H = 9, W = 9, C_out = 4, K = 3, stride = 2, pad = 1;
  const int H_out = (H + 2 * pad - K) / stride + 1, W_out = (W + 2 * pad - K) / stride + 1;  // 5 x 5
  for (const bool image_needs_grad : {true, false}) {
    SCOPED_TRACE(image_needs_grad);
    const Tensor x = random({N, C_in, H, W}, 1, image_needs_grad), w = random({C_out, C_in, K, K}, 2),
                 b = random({C_out}, 3);
    const TracedNode node = traced([&] { return conv2d(x, w, b, {stride, pad, 1}); });
    const NodeCost c = estimate_cost(node);
    const double macs = 1.0 * N * C_out * H_out * W_out * C_in * K * K;
    const double x_size = N * C_in * H * W, w_size = C_out * C_in * K * K, y_size = N * C_out * H_out * W_out;
    EXPECT_EQ(c.flops_forward, 2 * macs);
    EXPECT_EQ(c.flops_backward, (image_needs_grad ? 4 : 2) * macs);  // dW always, dx when the input needs it
    EXPECT_EQ(c.bytes_forward, (x_size + w_size + C_out + y_size) * kFloat);
    // dy; x read and dW written; W read and dx written (when needed); db written.
    EXPECT_EQ(c.bytes_backward,
              (y_size + (x_size + w_size) + (image_needs_grad ? w_size + x_size : 0) + C_out) * kFloat);
    EXPECT_EQ(op_cost_rule(node.op).name, "convolution");
  }
}

TEST(OpCost, DepthwiseConvolutionHasOneInputChannelPerOutput) {
  const int N = 2, C = 6, H = 8, W = 8, K = 3;  // stride 1, padding 1: the same size out
  const Tensor x = random({N, C, H, W}, 4), w = random({C, 1, K, K}, 5), b = random({C}, 6);
  const TracedNode node = traced([&] { return conv2d_relu(x, w, b, {1, 1, C}); });
  const NodeCost c = estimate_cost(node);
  const double values = N * C * H * W;
  EXPECT_EQ(c.flops_forward, 2 * values * K * K);
  EXPECT_EQ(c.flops_backward, 4 * values * K * K);
  EXPECT_EQ(c.bytes_forward, (values + C * K * K + C + values) * kFloat);
  // dy and y (the ReLU mask); x, W, dx, dW; db.
  EXPECT_EQ(c.bytes_backward, (2 * values + 2 * (values + C * K * K) + C) * kFloat);
}

TEST(OpCost, LinearIsTwoFlopsPerWeightPerRow) {
  const int N = 5, in = 7, out = 3;
  const Tensor x = random({N, in}, 7), w = random({out, in}, 8), b = random({out}, 9);
  const NodeCost c = estimate_cost(traced([&] { return linear(x, w, b); }));
  EXPECT_EQ(c.flops_forward, 2.0 * N * in * out);
  EXPECT_EQ(c.flops_backward, 4.0 * N * in * out);
  EXPECT_EQ(c.bytes_forward, (N * in + out * in + out + N * out) * kFloat);
  EXPECT_EQ(c.bytes_backward, (N * out + 2 * (N * in + out * in) + out) * kFloat);
}

TEST(OpCost, BatchNormCountsItsPassesOverTheValues) {
  const int N = 2, C = 3, H = 4, W = 4;
  const double values = N * C * H * W;
  for (const bool relu : {false, true}) {
    SCOPED_TRACE(relu);
    const Tensor x = random({N, C, H, W}, 10), gamma = random({C}, 11), beta = random({C}, 12);
    Tensor mean = Tensor::zeros({C}), var = Tensor::ones({C});
    const NodeCost c = estimate_cost(traced([&] {
      return relu ? batch_norm_relu2d(x, gamma, beta, mean, var, true) : batch_norm2d(x, gamma, beta, mean, var, true);
    }));
    // Forward: sum and sum of squares (3 per value), y = x s + t (2), the ReLU (1).
    EXPECT_EQ(c.flops_forward, (relu ? 6 : 5) * values);
    // Backward: x_hat (2), dy x_hat and the two sums (3), dx (6), the ReLU mask (1).
    EXPECT_EQ(c.flops_backward, (relu ? 12 : 11) * values);
    EXPECT_EQ(c.bytes_forward, (2 * values + 2 * C) * kFloat);
    // Reads dy, x, gamma (and y); writes dx, dgamma, dbeta.
    EXPECT_EQ(c.bytes_backward, ((relu ? 4 : 3) * values + 3 * C) * kFloat);
  }
}

TEST(Roofline, MeasuredCeilingsAreSaneAndPositive) {
  const Roofline r = measure_roofline();
  EXPECT_EQ(r.threads, num_threads());
  EXPECT_FALSE(r.isa.empty());
  // Anything that runs this suite does between 0.1 GFLOP/s (one slow core, emulated)
  // and 100 TFLOP/s; moves between 0.1 GB/s and 10 TB/s.
  EXPECT_GT(r.peak_flops, 1e8);
  EXPECT_LT(r.peak_flops, 1e14);
  EXPECT_GT(r.bandwidth, 1e8);
  EXPECT_LT(r.bandwidth, 1e13);
  EXPECT_DOUBLE_EQ(r.ridge_intensity(), r.peak_flops / r.bandwidth);

  const ThreadPoolScope one_thread(1);
  const Roofline single = measured_roofline();
  EXPECT_EQ(single.threads, 1);
  EXPECT_GT(single.peak_flops, 1e8);
  EXPECT_EQ(measured_roofline().peak_flops, single.peak_flops);  // measured once per thread count
}

TEST(Roofline, PointIsTheMinimumOfTheTwoRoofs) {
  const Roofline roof{.peak_flops = 100e9, .bandwidth = 10e9, .threads = 1, .isa = "test"};
  // 1 FLOP/byte: the memory roof, 10 GFLOP/s; 1 GFLOP in 0.5 s is 2 GFLOP/s, 20 %.
  const auto memory = roofline_point(roof, 1e9, 1e9, 0.5);
  ASSERT_TRUE(memory);
  EXPECT_TRUE(memory->memory_bound);
  EXPECT_DOUBLE_EQ(memory->attainable, 10e9);
  EXPECT_DOUBLE_EQ(memory->share, 0.2);
  // 100 FLOP/byte: above the ridge (10), the compute roof.
  const auto compute = roofline_point(roof, 100e9, 1e9, 2.0);
  ASSERT_TRUE(compute);
  EXPECT_FALSE(compute->memory_bound);
  EXPECT_DOUBLE_EQ(compute->share, 0.5);
  EXPECT_FALSE(roofline_point(roof, 0, 1e9, 1));  // a view: nothing to place
  EXPECT_FALSE(roofline_point(roof, 1e9, 1e9, 0));
}

TEST(Roofline, StepSharesRecomputeFromEachNodesOwnNumbers) {
  LoadedModel model = test::tiny_four_class_model(32, 7);
  const Tensor images = random({4, 1, 32, 32}, 13, false);
  const StepInspection step =
      inspect_training_step(*model.net, *model.params, images, {0, 1, 2, 3}, model.info.class_names, 1e-3, 1e-4);
  const boost::json::object json = to_json(step);
  const auto& roof = json.at("roofline").as_object();
  const double peak = roof.at("peak_flops").as_double(), bandwidth = roof.at("bandwidth").as_double();
  EXPECT_EQ(peak, step.roofline.peak_flops);
  const auto& rules = json.at("cost_rules").as_object();
  int placed = 0;
  for (const auto& value : json.at("nodes").as_array()) {
    const auto& node = value.as_object();
    SCOPED_TRACE(boost::json::serialize(node.at("op")));
    EXPECT_TRUE(rules.contains(node.at("cost_rule").as_string()));
    for (const char* pass : {"forward", "backward"}) {
      const double flops = node.at(std::string("flops_") + pass).as_double();
      const double bytes = node.at(std::string("bytes_") + pass).as_double();
      const double seconds = node.at(std::string(pass) + "_ms").as_double() / 1e3;
      const auto& point = node.at(std::string("roofline_") + pass);
      if (flops == 0 || bytes == 0 || seconds == 0) {
        EXPECT_TRUE(point.is_null());
        continue;
      }
      ++placed;
      const double intensity = flops / bytes;
      const double attainable = std::min(peak, intensity * bandwidth);
      // Only rounding separates the two: ms and back, a few ulps.
      EXPECT_NEAR(point.at("intensity").as_double(), intensity, 1e-12 * intensity);
      EXPECT_NEAR(point.at("attainable_flops").as_double(), attainable, 1e-12 * attainable);
      EXPECT_NEAR(point.at("share").as_double(), flops / seconds / attainable, 1e-12 * flops / seconds / attainable);
      EXPECT_EQ(point.at("bound").as_string(), intensity * bandwidth < peak ? "memory" : "compute");
    }
  }
  EXPECT_GT(placed, 20);
  EXPECT_NE(to_dot(step).find("roofline "), std::string::npos);
}
