// Comparing a CXR result with a PyTorch reference tensor, element by element: shared by
// the op registry's torch parity (tests/ops/harness.cpp) and the reference-net tests
// (tests/test_torch_parity.cpp).
#pragma once

#include "engine/tensor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

namespace cxr::testing {

// Every element within atol + rtol * |ref|; on failure, how many are not and the worst one.
inline void expect_close_to_torch(const Tensor& ours, const Tensor& ref, double atol, double rtol,
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
  EXPECT_EQ(failures, 0) << what << ": " << failures << " of " << ref.numel() << " elements exceed atol " << atol
                         << " + rtol " << rtol << " * |ref|; worst at flat index " << worst << ": ours "
                         << (worst >= 0 ? ours.at(worst) : 0.0) << ", torch " << (worst >= 0 ? ref.at(worst) : 0.0)
                         << " (largest |diff| " << max_diff << ")";
}

inline double max_abs(const Tensor& t) {
  double m = 0;
  for (std::int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::abs(t.at(i)));
  return m;
}

}  // namespace cxr::testing
