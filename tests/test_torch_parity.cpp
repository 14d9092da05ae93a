// Parity with PyTorch 1.13: one full training step of the reference net, against
// values that tests/reference/reference_net.py wrote (the ctest fixture
// `reference_data` runs it into $CXR_REFERENCE_DIR before these tests). The op-level
// cases run from the op registry (tests/ops/, test_ops).
//
// Everything is float32 on both sides, so results differ by rounding only: the same
// sums accumulated in a different order (blocked GEMM vs MKL-DNN, per-thread partials,
// fused vs separate passes). Float32's unit roundoff is u = 6e-8; a sum of n terms of
// size ~|t| carries ~sqrt(n) * u * |t| of rounding noise per side.
// Every tolerance below is written as atol + rtol * |ref| with its reason.
#include "engine/io/checkpoint.h"
#include "engine/io/safetensors.h"
#include "engine/ops.h"
#include "engine/optim/adamw.h"
#include "models/depthwise_net.h"

#include "torch_compare.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>

using namespace cxr;

using cxr::testing::expect_close_to_torch;
using cxr::testing::max_abs;

namespace {

std::string reference_dir() {
  const char* dir = std::getenv("CXR_REFERENCE_DIR");
  if (dir == nullptr || *dir == '\0')
    throw Error(
        "CXR_REFERENCE_DIR is not set: run these tests through ctest, whose fixture "
        "`reference_data` writes the PyTorch reference files there");
  return dir;
}

std::vector<int> labels_of(const Tensor& t) {
  std::vector<int> labels;
  for (double v : t.to_vector()) labels.push_back(static_cast<int>(v));
  return labels;
}

// ---- the reference net ------------------------------------------------------------------

// One training step of the cxr_small net on the reference weights, run once and
// shared by the tests below.
struct NetStep {
  NetStep()
      : weights(load_safetensors(reference_dir() + "/net/weights.safetensors")),
        io(load_safetensors(reference_dir() + "/net/io.safetensors")),
        grads(load_safetensors(reference_dir() + "/net/grads.safetensors")),
        after(load_safetensors(reference_dir() + "/net/after.safetensors")),
        net(config()),
        params(net, /*seed=*/0) {
    load_checkpoint(weights, net);
    net.train();
    logits = net.forward(io.at("input"));
    loss = cross_entropy(logits, labels_of(io.at("labels")), io.at("class_weights"));
    loss.backward();
  }

  static NetConfig config() {
    NetConfig c = NetConfig::cxr_small(4);
    c.dropout = 0.0;  // torch's dropout masks cannot be reproduced; the reference uses p = 0
    c.input_size = 64;
    return c;
  }

  static NetStep& get() {
    static NetStep step;
    return step;
  }

  SafetensorsFile weights, io, grads, after;
  DepthwiseSeparableNet net;
  ParameterSet params;
  Tensor logits, loss;
};

// Measured for this net and input: torch float32 itself differs from torch float64
// by at most 7e-7 in the logits (|logits| < 1), 3e-8 in the loss, 1.5e-5 * max|g|
// in a parameter gradient and 4.4e-7 in a running variance (~1.5). Two correct
// float32 implementations differ by about as much; the tolerances are ~10x that.

TEST(NetParity, LogitsAndLossMatchTorch) {
  NetStep& s = NetStep::get();
  // 17 conv layers deep, but each batch norm renormalises, so errors stay ~1e-6.
  expect_close_to_torch(s.logits, s.io.at("logits"), 1e-5, 1e-4, "logits");
  expect_close_to_torch(s.loss, s.io.at("loss"), 1e-6, 1e-5, "loss");
}

TEST(NetParity, EveryParameterGradientMatchesTorch) {
  NetStep& s = NetStep::get();
  EXPECT_EQ(s.grads.tensors.size(), s.params.parameters().size());
  for (const auto& p : s.params.parameters()) {
    SCOPED_TRACE(p.name);
    const Tensor& ref = s.grads.at(p.name);
    // Gradients sum over up to N*H*W = 2048 positions per weight and cancel inside
    // batch norm's backward, so small elements carry the noise of the large ones:
    // atol scales with the tensor's largest gradient (1e-4 * max|g|, ~7x the
    // measured torch float32 noise), rtol 1e-3 covers the rest.
    expect_close_to_torch(p.tensor.grad(), ref, 1e-4 * max_abs(ref), 1e-3, "gradient of " + p.name);
  }
}

TEST(NetParity, RunningStatisticsMatchTorch) {
  NetStep& s = NetStep::get();
  for (const auto& b : s.params.buffers()) {
    // Blends of batch means/variances over <= 2048 values (torch noise 4.4e-7).
    expect_close_to_torch(b.tensor, s.after.at(b.name), 5e-6, 1e-5, b.name + " after the forward pass");
  }
}

TEST(NetParity, AdamWStepMatchesTorch) {
  // From torch's own gradients, so that this compares the optimizer alone: on the
  // first step the update is lr * g / (|g| + eps) ~ lr * sign(g), which would
  // amplify the rounding noise of near-zero gradients into a full lr of difference.
  DepthwiseSeparableNet net(NetStep::config());
  ParameterSet params(net, /*seed=*/0);
  const SafetensorsFile weights = load_safetensors(reference_dir() + "/net/weights.safetensors");
  const SafetensorsFile grads = load_safetensors(reference_dir() + "/net/grads.safetensors");
  const SafetensorsFile after = load_safetensors(reference_dir() + "/net/after.safetensors");
  load_checkpoint(weights, net);
  for (const auto& p : params.parameters()) p.tensor.grad().copy_(grads.at(p.name));

  AdamW optimizer(params, AdamWOptions{1e-3, 0.9, 0.999, 1e-8, 1e-2});
  optimizer.step();
  for (const auto& p : params.parameters()) {
    // torch's update in float32: p * (1 - lr*wd) - (lr/bc1) * m / (sqrt(v)/sqrt(bc2) + eps)
    // with m = (1-b1) g, v = (1-b2) g^2 on the first step, the coefficients 1-b1 and
    // 1-b2 formed in double (Python floats) and rounded once. The same formula rounds
    // differently only in order: 2 ulp of |p| (rtol 2.4e-7: the decay multiply and the
    // subtraction) plus a few ulp of the update's size lr = 1e-3 (atol 1e-9 ~ 8 ulp
    // of 1e-3, which matters where p_after ~ 0 after p_before ~ lr cancelled).
    // A replica of this formula in numpy float32 matches torch bit for bit.
    expect_close_to_torch(p.tensor, after.at(p.name), 1e-9, 2.4e-7, p.name + " after one AdamW step");
  }
}

}  // namespace
