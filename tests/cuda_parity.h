// Running an op forward and backward on the CPU and on the GPU from the same
// inputs, for the CUDA op tests (conv2d, linear, batch norm).
#pragma once

#include "cuda_testing.h"

#include "engine/autograd.h"

#include <vector>

namespace cxr::testing {

struct OpResults {
  Tensor out;
  std::vector<Tensor> grads;  // one per input; undefined where the input needs none
};

// f on fresh leaf copies of `inputs` on `device` (requires_grad as the inputs),
// backward seeded with `seed_grad`; results brought back to the CPU.
inline OpResults run_op_on(Device device, const Function& f, const std::vector<Tensor>& inputs,
                           const Tensor& seed_grad) {
  std::vector<Tensor> leaves;
  for (const Tensor& t : inputs) {
    if (!t.defined()) {
      leaves.push_back(t);
      continue;
    }
    Tensor leaf = t.detach().to(device).clone();
    leaf.set_requires_grad(t.requires_grad());
    leaves.push_back(leaf);
  }
  Tensor out = f(leaves);
  out.backward(seed_grad.to(device));
  OpResults r{out.detach().to(Device::cpu()), {}};
  for (const Tensor& leaf : leaves)
    r.grads.push_back(leaf.defined() && leaf.requires_grad() && leaf.grad().defined() ? leaf.grad().to(Device::cpu())
                                                                                      : Tensor());
  return r;
}

// Compares the output and every gradient of two runs element by element,
// |actual - expected| <= atol + rtol*|expected| (atol, rtol per tensor: [0] the
// output, [1 + i] input i's gradient).
inline void expect_results_close(const OpResults& actual, const OpResults& expected, const std::vector<double>& atol,
                                 const std::vector<double>& rtol) {
  {
    SCOPED_TRACE("output");
    expect_close(actual.out, expected.out, atol[0], rtol[0]);
  }
  ASSERT_EQ(actual.grads.size(), expected.grads.size());
  for (std::size_t i = 0; i < actual.grads.size(); ++i) {
    SCOPED_TRACE("gradient of input " + std::to_string(i));
    ASSERT_EQ(actual.grads[i].defined(), expected.grads[i].defined());
    if (actual.grads[i].defined()) expect_close(actual.grads[i], expected.grads[i], atol[i + 1], rtol[i + 1]);
  }
}

}  // namespace cxr::testing
