// The op registry: every op of engine/ops.h declared once, with the calls that check it.
//
// One OpSpec per op holds, in one place, the shapes (odd ones included), how to build
// random inputs and which reference each mode compares with:
//   gradcheck  float64 finite differences on the CPU (tests/gradcheck.h)
//   torch      the PyTorch cases of tests/reference/ops_reference.py (forward and gradients)
//   devices    every backend other than the CPU against the CPU, forward and backward,
//              with the tolerance each case's comment derives
//   bench      the per-op benchmark, float32, on every backend present (bench/bench_ops.cpp)
// tests/ops/harness.cpp runs the first three as GoogleTest tests and writes the
// coverage table (docs/op-coverage.md); bench/bench_ops.cpp times the fourth.
//
// Adding an op: its kernels, its entry in engine/ops.h and one OpSpec in the family's
// tests/ops/<family>.cpp (a torch case also needs its lines in ops_reference.py).
#pragma once

#include "reference_case.h"

#include "engine/ops.h"
#include "engine/random.h"

#include <functional>
#include <string>
#include <vector>

namespace cxr::testing {

using Inputs = std::vector<Tensor>;
using OpFn = std::function<Tensor(const Inputs&)>;

// One call of an op: its inputs, built from a generator the harness seeds from the
// label (inputs that need a gradient have requires_grad), and the call itself.
// `label` names the shape and options in test output.
struct OpCall {
  std::string label;
  std::function<Inputs(Generator&)> inputs;
  OpFn run;
};

// A call run on another backend and on the CPU: outputs and every gradient of
// sum(out * R) agree within |other - cpu| <= atol + rtol * |cpu|. R is `upstream`
// of the output's shape and dtype, or by default small integers in [-4, 4]
// (tests/cuda_testing.h's expect_cuda_matches_cpu).
using Upstream = std::function<Tensor(const Shape&, DType, Generator&)>;
struct DeviceCase {
  DeviceCase(OpCall c, double a, double r, Upstream u = {})
      : call(std::move(c)), atol(a), rtol(r), upstream(std::move(u)) {}

  OpCall call;
  double atol, rtol;
  Upstream upstream;
};

// Test files that still check (more of) a mode of an op outside the registry
// (empty: none). The coverage table names them beside the registry's count, or
// instead of "no".
struct Elsewhere {
  std::string gradcheck, devices;
};

struct OpSpec {
  explicit OpSpec(std::string op_name, bool backward = true) : name(std::move(op_name)), has_backward(backward) {}

  std::string name;   // the function's name in engine/ops.h
  bool has_backward;  // false for the in-place ops outside autograd
  std::vector<OpCall> gradcheck;
  // Ops with a ReLU inside: the values it thresholds, for the gradcheck call of that
  // label. Finite differences assert that none lies within 1e-5 of the kink (the step
  // is 1e-6); one that does needs other inputs.
  std::function<Tensor(const std::string& label, const Inputs&)> pre_activation;
  std::vector<std::string> torch_cases;              // file names written by ops_reference.py
  std::function<Tensor(ReferenceCase&)> torch_call;  // the op on a reference file's tensors
  std::vector<DeviceCase> devices;
  std::vector<OpCall> bench;
  Elsewhere elsewhere;
  std::string note;  // why a cell is "no", printed under the coverage table
};

// The families, one file each under tests/ops/.
std::vector<OpSpec> elementwise_ops();
std::vector<OpSpec> shape_ops();
std::vector<OpSpec> reduction_ops();
std::vector<OpSpec> conv_ops();
std::vector<OpSpec> normalisation_ops();
std::vector<OpSpec> pool_ops();
std::vector<OpSpec> classification_ops();
std::vector<OpSpec> resampling_ops();
std::vector<OpSpec> activation_ops();
std::vector<OpSpec> channel_ops();
std::vector<OpSpec> segmentation_loss_ops();
std::vector<OpSpec> soft_target_loss_ops();

// Every op, in the order of engine/ops.h.
const std::vector<OpSpec>& all_ops();

}  // namespace cxr::testing
