// Finite-difference gradient checking in float64.
//
// For a function f(inputs) -> output, the loss L = sum(output * R) with a fixed
// random R makes every output element count. The analytic gradient comes from
// output.backward(R); the numerical one from central differences
//   dL/dx_i ~ (L(x_i + h) - L(x_i - h)) / 2h.
// With h = 1e-6 in float64 the truncation error is O(h^2 * f''') ~ 1e-12 and the
// rounding error ~ 1e-16 * |L| / h ~ 1e-10 * |L|, so agreement to atol 1e-6 +
// rtol 1e-5 is a tight test that still never fails on correct code. Inputs of
// non-smooth ops (relu, max pool) must keep away from kinks and ties by more than h.
#pragma once

#include "random_tensors.h"

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/random.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <vector>

namespace cxr::testing {

inline double dot(const Tensor& a, const Tensor& b) {
  double s = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) s += a.at(i) * b.at(i);
  return s;
}

using Function = std::function<Tensor(const std::vector<Tensor>&)>;

// Checks d(sum(f(inputs) * R))/d(inputs[i]) for every input with requires_grad.
inline void expect_gradients_match(const Function& f, std::vector<Tensor> inputs, std::uint64_t seed = 1,
                                   double h = 1e-6, double atol = 1e-6, double rtol = 1e-5) {
  Generator gen(seed);
  for (auto& t : inputs) {
    ASSERT_EQ(t.dtype(), DType::F64) << "gradient checks run in float64";
    if (t.requires_grad()) t.set_grad(Tensor());
  }
  Tensor out = f(inputs);
  const Tensor R = random_tensor(out.shape(), gen);
  out.backward(R);

  for (std::size_t k = 0; k < inputs.size(); ++k) {
    Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;
    ASSERT_TRUE(x.grad().defined()) << "input " << k << " received no gradient";
    double* xd = x.data<double>();
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      const double saved = xd[i];
      double plus, minus;
      {
        NoGradGuard no_grad;
        xd[i] = saved + h;
        plus = dot(f(inputs), R);
        xd[i] = saved - h;
        minus = dot(f(inputs), R);
      }
      xd[i] = saved;
      const double numeric = (plus - minus) / (2 * h);
      const double analytic = x.grad().at(i);
      ASSERT_NEAR(analytic, numeric, atol + rtol * std::abs(numeric))
          << "input " << k << " " << x.str() << ", element " << i;
    }
  }
}

}  // namespace cxr::testing
