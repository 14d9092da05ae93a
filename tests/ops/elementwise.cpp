// add, mul_scalar, gradient_reversal, relu, dropout and the in-place add_, scale_.
//
// Device tolerances: one IEEE operation per element (a copy for gradient_reversal's
// forward, one product backward), with no FMA on either side (kernels/CMakeLists.txt),
// so every backend equals the CPU for any data: atol = rtol = 0.
#include "cases.h"

namespace cxr::testing {
namespace {

// Odd sizes, 1x1 maps, batch 1: for finite differences.
const std::vector<Shape> kGradShapes = {{1}, {7}, {2, 3, 5, 5}, {1, 1, 1, 1}, {3, 13}};
// Device shapes: also sizes past one block (1000) and many blocks (70001), channels
// that are not a multiple of 32.
const std::vector<Shape> kDeviceShapes = {{1}, {7}, {1000}, {2, 3, 5, 5}, {1, 1, 1, 1}, {3, 33, 7, 9}, {70001}};

// Device cases of a one-input op on every device shape in both dtypes.
std::vector<DeviceCase> unary_on_device_shapes(const OpFn& run, double atol = 0, double rtol = 0) {
  std::vector<DeviceCase> cases;
  for (DType dt : kBothDtypes)
    for (const Shape& s : kDeviceShapes)
      cases.push_back({unary_call(shape_label(s) + "_" + dtype_label(dt), s, dt, run), atol, rtol});
  return cases;
}

std::vector<OpCall> unary_on_grad_shapes(const OpFn& run) {
  std::vector<OpCall> calls;
  for (const Shape& s : kGradShapes) calls.push_back(unary_call(shape_label(s), s, DType::F64, run));
  return calls;
}

OpCall bench_unary(const OpFn& run) {
  return unary_call("activation", kBenchActivation, DType::F32, run);
}

OpSpec add_spec() {
  OpSpec op("add");
  auto run = [](const Inputs& in) {
    return add(in[0], in[1]);
  };
  auto two = [](const Shape& s, DType dt) {
    return [=](Generator& gen) {
      return Inputs{grad_input(gen, s, dt), grad_input(gen, s, dt)};
    };
  };
  for (const Shape& s : kGradShapes) op.gradcheck.push_back({shape_label(s), two(s, DType::F64), run});
  op.torch_cases = {"add"};
  op.torch_call = [](ReferenceCase& c) {
    return add(c.in("x"), c.in("y"));
  };
  for (DType dt : kBothDtypes)
    for (const Shape& s : kDeviceShapes)
      op.devices.push_back({{shape_label(s) + "_" + dtype_label(dt), two(s, dt), run}, 0, 0});
  op.bench = {{"activation", two(kBenchActivation, DType::F32), run}};
  return op;
}

OpSpec mul_scalar_spec() {
  OpSpec op("mul_scalar");
  auto run = [](const Inputs& in) {
    return mul_scalar(in[0], -2.5);
  };
  op.gradcheck = unary_on_grad_shapes(run);
  op.torch_cases = {"mul_scalar"};
  op.torch_call = [](ReferenceCase& c) {
    return mul_scalar(c.in("x"), c.meta_double("scale"));
  };
  op.devices = unary_on_device_shapes(run);
  op.bench = {bench_unary(run)};
  return op;
}

OpSpec gradient_reversal_spec() {
  // Its backward is -lambda times the forward's derivative by design, so the plain
  // finite-difference check does not apply: test_elementwise compares with -lambda
  // times the central differences.
  OpSpec op("gradient_reversal");
  op.elsewhere.gradcheck = "tests/test_elementwise.cpp";
  auto run = [](const Inputs& in) {
    return gradient_reversal(in[0], 0.75);
  };
  op.torch_cases = {"gradient_reversal", "gradient_reversal_f64"};
  op.torch_call = [](ReferenceCase& c) {
    return gradient_reversal(c.in("x"), c.meta_double("lambd"));
  };
  op.devices = unary_on_device_shapes(run);
  op.bench = {bench_unary(run)};
  return op;
}

OpSpec relu_spec() {
  OpSpec op("relu");
  auto run = [](const Inputs& in) {
    return relu(in[0]);
  };
  for (const Shape& s : kGradShapes)
    op.gradcheck.push_back({shape_label(s),
                            [s](Generator& gen) {
                              Tensor x = random_tensor(s, gen);
                              // Move values off the kink at 0 by more than the finite-difference step.
                              double* d = x.data<double>();
                              for (std::int64_t i = 0; i < x.numel(); ++i)
                                if (std::abs(d[i]) < 1e-3) d[i] = 0.5;
                              return Inputs{x.set_requires_grad()};
                            },
                            run});
  op.torch_cases = {"relu"};
  op.torch_call = [](ReferenceCase& c) {
    return relu(c.in("x"));
  };
  op.devices = unary_on_device_shapes(run);
  // The gradient at 0 and -0 is 0 on the GPU as on the CPU.
  op.devices.push_back(
      {{"zeros_and_signs",
        [](Generator&) {
          return Inputs{Tensor::from_vector(std::vector<double>{-1, -0.0, 0, 2}, {4}).set_requires_grad()};
        },
        run},
       0,
       0});
  op.bench = {bench_unary(run)};
  return op;
}

OpSpec dropout_spec() {
  // The mask comes from CXR's own generator: no torch case. Each evaluation re-seeds
  // its generator, so finite differences and both devices see the same mask.
  OpSpec op("dropout");
  op.note =
      "no PyTorch case: the mask comes from CXR's own generator (test_elementwise checks the "
      "mask's rate, scaling and thread independence).";
  op.gradcheck = {unary_call("2x3x4x5_p0.4", {2, 3, 4, 5}, DType::F64, [](const Inputs& in) {
    Generator g(7);
    return dropout(in[0], 0.4, true, g);
  })};
  op.devices = {{unary_call("4x9x11_p0.5_f32", {4, 9, 11}, DType::F32,
                            [](const Inputs& in) {
                              Generator g(5);
                              return dropout(in[0], 0.5, true, g);
                            }),
                 0, 0}};
  op.bench = {bench_unary([](const Inputs& in) {
    Generator g(5);
    return dropout(in[0], 0.3, true, g);
  })};
  return op;
}

// The in-place ops run outside autograd: forward only, on a copy of the first input.
OpSpec add_inplace_spec() {
  OpSpec op("add_", /*backward=*/false);
  op.note =
      "no PyTorch case: an in-place helper outside autograd, checked on the CPU through "
      "autograd's gradient accumulation (test_autograd).";
  auto run = [](const Inputs& in) {
    Tensor a = in[0].detach().clone();
    add_(a, in[1].detach());
    return a;
  };
  for (DType dt : kBothDtypes)
    for (const Shape& s : kDeviceShapes)
      op.devices.push_back({{shape_label(s) + "_" + dtype_label(dt),
                             [=](Generator& gen) {
                               return Inputs{random_tensor(s, gen, dt), random_tensor(s, gen, dt)};
                             },
                             run},
                            0,
                            0});
  op.bench = {{"activation",
               [](Generator& gen) {
                 return Inputs{random_tensor(kBenchActivation, gen, DType::F32),
                               random_tensor(kBenchActivation, gen, DType::F32)};
               },
               run}};
  return op;
}

OpSpec scale_inplace_spec() {
  OpSpec op("scale_", /*backward=*/false);
  op.note =
      "no PyTorch case: an in-place helper outside autograd, checked on the CPU through "
      "gradient clipping (test_optim).";
  auto run = [](const Inputs& in) {
    Tensor a = in[0].detach().clone();
    scale_(a, -2.5);
    return a;
  };
  for (DType dt : kBothDtypes)
    for (const Shape& s : kDeviceShapes)
      op.devices.push_back({{shape_label(s) + "_" + dtype_label(dt),
                             [=](Generator& gen) { return Inputs{random_tensor(s, gen, dt)}; }, run},
                            0,
                            0});
  op.bench = {
      {"activation", [](Generator& gen) { return Inputs{random_tensor(kBenchActivation, gen, DType::F32)}; }, run}};
  return op;
}

}  // namespace

std::vector<OpSpec> elementwise_ops() {
  return {add_spec(),     mul_scalar_spec(),  gradient_reversal_spec(), relu_spec(),
          dropout_spec(), add_inplace_spec(), scale_inplace_spec()};
}

}  // namespace cxr::testing
