// sigmoid, tanh and leaky_relu.
//
// Device tolerances: CUDA's exp and tanh are within 1-2 ulps of the correctly rounded
// value (CUDA C Programming Guide, appendix "Mathematical Functions"), glibc's within
// 1, and sigmoid adds one division: outputs in (-1, 1) differ by a few ulps of 1, and
// the backward's (1 - out) and (1 - out^2) turn that into an absolute error of a few
// ulps of 1 times |dout| <= 4. atol = 64 ulps of 1 and rtol = 16 ulps bound that with
// a margin and are still 1e4x below an indexing or formula error (O(1e-2) and up).
// Leaky ReLU is one select and one product on both sides: exact.
#include "cases.h"

namespace cxr::testing {
namespace {

const std::vector<Shape> kGradShapes = {{1}, {7}, {2, 3, 5, 5}, {1, 1, 1, 1}, {3, 13}};
const std::vector<Shape> kDeviceShapes = {{1}, {7}, {1000}, {2, 3, 5, 5}, {3, 33, 7, 9}, {70001}};

double ulps_of_one(DType t, double count) {
  return count * (t == DType::F32 ? 0x1.0p-23 : 0x1.0p-52);
}

std::vector<OpCall> unary_grad_calls(const OpFn& run, double lo, double hi) {
  std::vector<OpCall> calls;
  for (const Shape& s : kGradShapes) calls.push_back(unary_call(shape_label(s), s, DType::F64, run, lo, hi));
  return calls;
}

// Device cases on every device shape in both dtypes, inputs in [lo, hi), plus the
// saturated tails (|x| up to 60), where a naive exp overflows.
std::vector<DeviceCase> smooth_device_cases(const OpFn& run, double lo, double hi) {
  std::vector<DeviceCase> cases;
  for (DType dt : kBothDtypes) {
    const double atol = ulps_of_one(dt, 64), rtol = ulps_of_one(dt, 16);
    for (const Shape& s : kDeviceShapes)
      cases.push_back({unary_call(shape_label(s) + "_" + dtype_label(dt), s, dt, run, lo, hi), atol, rtol});
    cases.push_back({unary_call("tails_1000_" + dtype_label(dt), {1000}, dt, run, -60, 60), atol, rtol});
  }
  return cases;
}

OpSpec sigmoid_spec() {
  OpSpec op("sigmoid");
  auto run = [](const Inputs& in) {
    return sigmoid(in[0]);
  };
  op.gradcheck = unary_grad_calls(run, -4, 4);
  op.gradcheck.push_back(unary_call("tails_9", {9}, DType::F64, run, -30, 30));
  op.torch_cases = {"sigmoid", "sigmoid_f64"};
  op.torch_call = [](ReferenceCase& c) {
    return sigmoid(c.in("x"));
  };
  op.devices = smooth_device_cases(run, -6, 6);
  op.bench = {unary_call("activation", kBenchActivation, DType::F32, run)};
  return op;
}

OpSpec tanh_spec() {
  OpSpec op("tanh");
  auto run = [](const Inputs& in) {
    return tanh(in[0]);
  };
  op.gradcheck = unary_grad_calls(run, -3, 3);
  op.torch_cases = {"tanh", "tanh_f64"};
  op.torch_call = [](ReferenceCase& c) {
    return tanh(c.in("x"));
  };
  op.devices = smooth_device_cases(run, -4, 4);
  op.bench = {unary_call("activation", kBenchActivation, DType::F32, run)};
  return op;
}

OpSpec leaky_relu_spec() {
  OpSpec op("leaky_relu");
  auto run = [](const Inputs& in) {
    return leaky_relu(in[0], 0.2);
  };
  for (const Shape& s : kGradShapes)
    op.gradcheck.push_back({shape_label(s),
                            [s](Generator& gen) {
                              Tensor x = random_tensor(s, gen);
                              // Move values off the kink at 0 by more than the finite-difference step.
                              double* d = x.data<double>();
                              for (std::int64_t i = 0; i < x.numel(); ++i)
                                if (std::abs(d[i]) < 1e-3) d[i] = -0.5;
                              return Inputs{x.set_requires_grad()};
                            },
                            run});
  op.torch_cases = {"leaky_relu"};
  op.torch_call = [](ReferenceCase& c) {
    return leaky_relu(c.in("x"), c.meta_double("negative_slope"));
  };
  for (DType dt : kBothDtypes)
    for (const Shape& s : kDeviceShapes)
      op.devices.push_back({unary_call(shape_label(s) + "_" + dtype_label(dt), s, dt, run), 0, 0});
  // At 0 and -0 the gradient is the slope's share on both devices.
  op.devices.push_back(
      {{"zeros_and_signs",
        [](Generator&) {
          return Inputs{Tensor::from_vector(std::vector<double>{-1, -0.0, 0, 2}, {4}).set_requires_grad()};
        },
        run},
       0,
       0});
  op.bench = {unary_call("activation", kBenchActivation, DType::F32, run)};
  return op;
}

}  // namespace

std::vector<OpSpec> activation_ops() {
  return {sigmoid_spec(), tanh_spec(), leaky_relu_spec()};
}

}  // namespace cxr::testing
