// Parity with PyTorch 1.13: every op of engine/ops.h and one full training step of
// the reference net, against values that tests/reference/*.py wrote (the ctest
// fixture `reference_data` runs them into $CXR_REFERENCE_DIR before these tests).
//
// Everything is float32 on both sides (float64 in the op cases named *_f64), so
// results differ by rounding only: the same sums accumulated in a different order
// (blocked GEMM vs MKL-DNN, per-thread partials, fused vs separate passes). Float32's
// unit roundoff is u = 6e-8; a sum of n terms of size ~|t| carries ~sqrt(n) * u * |t|
// of rounding noise per side.
// Every tolerance below is written as atol + rtol * |ref| with its reason.
#include "engine/io/checkpoint.h"
#include "engine/io/safetensors.h"
#include "engine/ops.h"
#include "engine/optim/adamw.h"
#include "models/depthwise_net.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <sstream>

using namespace cxr;

namespace {

std::string reference_dir() {
  const char* dir = std::getenv("CXR_REFERENCE_DIR");
  if (dir == nullptr || *dir == '\0')
    throw Error("CXR_REFERENCE_DIR is not set: run these tests through ctest, whose fixture "
                "`reference_data` writes the PyTorch reference files there");
  return dir;
}

// Every element within atol + rtol * |ref|; on failure, how many are not and the worst one.
void expect_close(const Tensor& ours, const Tensor& ref, double atol, double rtol,
                  const std::string& what) {
  ASSERT_EQ(ours.shape(), ref.shape()) << what;
  std::int64_t failures = 0, worst = -1;
  double worst_excess = 0, max_diff = 0;
  for (std::int64_t i = 0; i < ref.numel(); ++i) {
    const double r = ref.at(i), o = ours.at(i);
    const double diff = std::abs(o - r);
    const double excess = diff - (atol + rtol * std::abs(r));
    max_diff = std::max(max_diff, diff);
    if (!(excess <= 0)) {  // also catches NaN
      ++failures;
      if (worst < 0 || excess > worst_excess || std::isnan(excess)) {
        worst = i;
        worst_excess = excess;
      }
    }
  }
  EXPECT_EQ(failures, 0) << what << ": " << failures << " of " << ref.numel()
                         << " elements exceed atol " << atol << " + rtol " << rtol
                         << " * |ref|; worst at flat index " << worst << ": ours "
                         << (worst >= 0 ? ours.at(worst) : 0.0) << ", torch "
                         << (worst >= 0 ? ref.at(worst) : 0.0) << " (largest |diff| " << max_diff
                         << ")";
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (std::int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::abs(t.at(i)));
  return m;
}

std::vector<int> labels_of(const Tensor& t) {
  std::vector<int> labels;
  for (double v : t.to_vector()) labels.push_back(static_cast<int>(v));
  return labels;
}

// Label-set masks are stored as float64, which holds every uint32 exactly.
std::vector<std::uint32_t> masks_of(const Tensor& t) {
  std::vector<std::uint32_t> masks;
  for (double v : t.to_vector()) masks.push_back(static_cast<std::uint32_t>(v));
  return masks;
}

// ---- ops ---------------------------------------------------------------------------------

// The op cases of ops_reference.py; a case missing from the directory fails its test.
const char* const kOpCases[] = {
    "add", "mul_scalar", "gradient_reversal", "gradient_reversal_f64", "relu", "reshape", "flatten",
    "sum", "mean", "conv2d_standard", "conv2d_strided", "conv2d_padded", "conv2d_stem", "conv2d_grouped",
    "conv2d_depthwise", "conv2d_depthwise_strided", "conv2d_pointwise", "linear", "linear_no_bias",
    "batch_norm2d_train", "batch_norm2d_eval", "max_pool2d", "max_pool2d_padded", "avg_pool2d",
    "avg_pool2d_padded", "global_avg_pool2d", "softmax", "log_softmax", "cross_entropy",
    "cross_entropy_weighted", "label_set_cross_entropy", "label_set_cross_entropy_weighted",
    "label_set_cross_entropy_f64", "label_set_cross_entropy_weighted_f64", "resize_bilinear_up",
    "resize_bilinear_down", "resize_bilinear_half",
};

class Case {
 public:
  explicit Case(const std::string& name)
      : file_(load_safetensors(reference_dir() + "/ops/" + name + ".safetensors")) {
    for (const auto& [key, t] : file_.tensors) {
      if (key.rfind("grad.", 0) == 0) grad_names_.push_back(key.substr(5));
    }
    for (const auto& [key, t] : file_.tensors) {
      Tensor copy = t.clone();
      if (std::find(grad_names_.begin(), grad_names_.end(), key) != grad_names_.end())
        copy.set_requires_grad();
      inputs_[key] = copy;
    }
  }

  const SafetensorsFile& file() const { return file_; }
  const std::vector<std::string>& grad_names() const { return grad_names_; }
  Tensor& in(const std::string& name) {
    CXR_CHECK(inputs_.count(name), "{} has no tensor '{}'", file_.path, name);
    return inputs_[name];
  }
  Tensor optional(const std::string& name) { return inputs_.count(name) ? inputs_[name] : Tensor(); }
  const std::string& meta(const std::string& key) const {
    auto it = file_.metadata.find(key);
    CXR_CHECK(it != file_.metadata.end(), "{} has no metadata '{}'", file_.path, key);
    return it->second;
  }
  int meta_int(const std::string& key) const { return std::stoi(meta(key)); }
  double meta_double(const std::string& key) const { return std::stod(meta(key)); }

  Tensor run() {
    const std::string& op = meta("op");
    if (op == "add") return add(in("x"), in("y"));
    if (op == "mul_scalar") return mul_scalar(in("x"), meta_double("scale"));
    if (op == "gradient_reversal") return gradient_reversal(in("x"), meta_double("lambd"));
    if (op == "relu") return relu(in("x"));
    if (op == "reshape") {
      Shape shape;
      std::stringstream ss(meta("shape"));
      for (std::string part; std::getline(ss, part, ',');) shape.push_back(std::stoll(part));
      return reshape(in("x"), shape);
    }
    if (op == "flatten") return flatten(in("x"));
    if (op == "sum") return sum(in("x"));
    if (op == "mean") return mean(in("x"));
    if (op == "conv2d")
      return conv2d(in("x"), in("weight"), optional("bias"),
                    {meta_int("stride"), meta_int("padding"), meta_int("groups")});
    if (op == "linear") return linear(in("x"), in("weight"), optional("bias"));
    if (op == "batch_norm2d")
      return batch_norm2d(in("x"), in("gamma"), in("beta"), in("running_mean"), in("running_var"),
                          meta("training") == "1", meta_double("momentum"), meta_double("eps"));
    if (op == "max_pool2d")
      return max_pool2d(in("x"), meta_int("kernel"), meta_int("stride"), meta_int("padding"));
    if (op == "avg_pool2d")
      return avg_pool2d(in("x"), meta_int("kernel"), meta_int("stride"), meta_int("padding"));
    if (op == "global_avg_pool2d") return global_avg_pool2d(in("x"));
    if (op == "softmax") return softmax(in("x"));
    if (op == "log_softmax") return log_softmax(in("x"));
    if (op == "cross_entropy")
      return cross_entropy(in("x"), labels_of(in("labels")), optional("class_weights"));
    if (op == "label_set_cross_entropy")
      return label_set_cross_entropy(in("x"), masks_of(in("masks")), optional("class_weights"));
    if (op == "resize_bilinear") return resize_bilinear(in("x"), meta_int("out_h"), meta_int("out_w"));
    throw Error(fmt::format("{}: unknown op '{}'", file_.path, op));
  }

 private:
  SafetensorsFile file_;
  std::vector<std::string> grad_names_;
  std::map<std::string, Tensor> inputs_;
};

class OpParity : public ::testing::TestWithParam<const char*> {};

// Op tolerance. Rounding noise scales with the size of the summed terms, which the
// tensor's largest element measures: conv weight gradients reach |g| ~ 40 as sums
// of ~160 products, batch-norm statistics sum 126 values. On these cases torch's own
// float32 results differ from float64 by at most 1e-6 * max(1, max|ref|) (measured;
// ours differ from torch's by as much), so atol = 1e-5 * max(1, max|ref|) leaves a
// 10x margin and rtol 1e-5 (~170 u) covers the rounding of individual large
// elements. A wrong index, a missing term or a wrong formula shows up as errors of
// 1e-2 * max|ref| and more.
// The float64 cases (*_f64) follow the same rule at float64's u = 1.1e-16: ours differ
// from torch's by at most 4.4e-16 (measured, label_set_cross_entropy_weighted_f64's loss
// of 1.6, 2.5 u), so 1e-14 (~90 u) leaves a 20x margin and is still 12 orders of
// magnitude below a formula error.
void expect_op_close(const Tensor& ours, const Tensor& ref, const std::string& what) {
  const double tol = ref.dtype() == DType::F64 ? 1e-14 : 1e-5;
  expect_close(ours, ref, tol * std::max(1.0, max_abs(ref)), tol, what);
}

TEST_P(OpParity, ForwardAndGradientsMatchTorch) {
  Case c(GetParam());
  const Tensor out = c.run();
  expect_op_close(out, c.file().at("out"), std::string(GetParam()) + " output");
  if (c.file().contains("running_mean_after")) {
    // Running statistics are one blend of the batch mean/variance: same accumulations as above.
    expect_op_close(c.in("running_mean"), c.file().at("running_mean_after"), "running_mean after");
    expect_op_close(c.in("running_var"), c.file().at("running_var_after"), "running_var after");
  }
  ASSERT_FALSE(c.grad_names().empty()) << "the case has no gradients to compare";
  out.backward(c.file().at("R"));
  for (const auto& name : c.grad_names()) {
    ASSERT_TRUE(c.in(name).grad().defined()) << name << " received no gradient";
    expect_op_close(c.in(name).grad(), c.file().at("grad." + name),
                    std::string(GetParam()) + " gradient of " + name);
  }
}

INSTANTIATE_TEST_SUITE_P(Torch, OpParity, ::testing::ValuesIn(kOpCases),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

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
  expect_close(s.logits, s.io.at("logits"), 1e-5, 1e-4, "logits");
  expect_close(s.loss, s.io.at("loss"), 1e-6, 1e-5, "loss");
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
    expect_close(p.tensor.grad(), ref, 1e-4 * max_abs(ref), 1e-3, "gradient of " + p.name);
  }
}

TEST(NetParity, RunningStatisticsMatchTorch) {
  NetStep& s = NetStep::get();
  for (const auto& b : s.params.buffers()) {
    // Blends of batch means/variances over <= 2048 values (torch noise 4.4e-7).
    expect_close(b.tensor, s.after.at(b.name), 5e-6, 1e-5, b.name + " after the forward pass");
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
    expect_close(p.tensor, after.at(p.name), 1e-9, 2.4e-7, p.name + " after one AdamW step");
  }
}

}  // namespace
