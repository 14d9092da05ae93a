// batch_norm2d and batch_norm_relu2d.
//
// Their device checks are still in the file named in `elsewhere`.
#include "cases.h"

namespace cxr::testing {
namespace {

// Odd sizes, batch 1, 1x1 maps, channel counts that are not multiples of 8, and
// maps of 16 and 32 values (whole vector iterations without a tail).
const std::vector<Shape> kGradShapes = {{2, 3, 4, 5}, {1, 5, 3, 3}, {4, 9, 1, 1},
                                        {3, 1, 2, 7}, {1, 2, 1, 2}, {2, 2, 4, 8}};

const std::vector<Shape> kReluGradShapes = {{2, 3, 4, 5}, {1, 5, 3, 3}, {4, 9, 1, 1}, {2, 2, 4, 8}, {3, 17, 7, 9}};

// Inputs {x, gamma, beta, running_mean, running_var}; the running statistics need no gradient.
std::function<Inputs(Generator&)> norm_inputs(const Shape& s, DType dt) {
  return [=](Generator& gen) {
    const std::int64_t C = s[1];
    Tensor x = grad_input(gen, s, dt);
    return Inputs{x, grad_input(gen, {C}, dt, 0.5, 1.5), grad_input(gen, {C}, dt), random_tensor({C}, gen, dt),
                  random_tensor({C}, gen, dt, 0.5, 2.0)};
  };
}

using Norm = Tensor (*)(const Tensor&, const Tensor&, const Tensor&, Tensor&, Tensor&, bool, double, double);
OpFn norm_of(Norm f, bool training) {
  return [f, training](const Inputs& in) {
    Tensor running_mean = in[3], running_var = in[4];  // handles: updated in place when training
    return f(in[0], in[1], in[2], running_mean, running_var, training, 0.1, 1e-5);
  };
}

std::vector<OpCall> bench_calls(Norm f) {
  return {{"activation_train", norm_inputs(kBenchActivation, DType::F32), norm_of(f, true)},
          {"activation_eval", norm_inputs(kBenchActivation, DType::F32), norm_of(f, false)}};
}

OpSpec batch_norm_spec() {
  OpSpec op("batch_norm2d");
  // Training (batch statistics) and evaluation (running statistics) modes.
  for (bool training : {true, false})
    for (const Shape& s : kGradShapes)
      op.gradcheck.push_back({shape_label(s) + (training ? "_train" : "_eval"), norm_inputs(s, DType::F64),
                              norm_of(&batch_norm2d, training)});
  op.torch_cases = {"batch_norm2d_train", "batch_norm2d_eval"};
  op.torch_call = [](ReferenceCase& c) {
    return batch_norm2d(c.in("x"), c.in("gamma"), c.in("beta"), c.in("running_mean"), c.in("running_var"),
                        c.meta("training") == "1", c.meta_double("momentum"), c.meta_double("eps"));
  };
  op.elsewhere.devices = "tests/test_cuda_batch_norm.cpp";
  op.bench = bench_calls(&batch_norm2d);
  return op;
}

OpSpec batch_norm_relu_spec() {
  OpSpec op("batch_norm_relu2d");
  op.torch_cases = {"batch_norm_relu2d_train", "batch_norm_relu2d_eval"};
  op.torch_call = [](ReferenceCase& c) {
    return batch_norm_relu2d(c.in("x"), c.in("gamma"), c.in("beta"), c.in("running_mean"), c.in("running_var"),
                             c.meta("training") == "1", c.meta_double("momentum"), c.meta_double("eps"));
  };
  // Fresh running statistics on every call: zeros and ones.
  auto run = [](const Tensor& x, const Tensor& gamma, const Tensor& beta, bool training, Norm f) {
    const std::int64_t C = x.size(1);
    Tensor rm = Tensor::zeros({C}, x.dtype()), rv = Tensor::ones({C}, x.dtype());
    return f(x, gamma, beta, rm, rv, training, 0.1, 1e-5);
  };
  for (bool training : {true, false})
    for (const Shape& s : kReluGradShapes)
      op.gradcheck.push_back({shape_label(s) + (training ? "_train" : "_eval"),
                              [s](Generator& gen) {
                                return Inputs{grad_input(gen, s), grad_input(gen, {s[1]}, DType::F64, 0.5, 1.5),
                                              grad_input(gen, {s[1]}, DType::F64, -0.2, 0.2)};
                              },
                              [run, training](const Inputs& in) {
                                return run(in[0], in[1], in[2], training, &batch_norm_relu2d);
                              }});
  op.pre_activation = [run](const std::string& label, const Inputs& in) {
    return run(in[0], in[1], in[2], label.ends_with("_train"), &batch_norm2d);
  };
  op.elsewhere.devices = "tests/test_cuda_batch_norm.cpp";
  op.bench = bench_calls(&batch_norm_relu2d);
  return op;
}

}  // namespace

std::vector<OpSpec> normalisation_ops() {
  return {batch_norm_spec(), batch_norm_relu_spec()};
}

}  // namespace cxr::testing
