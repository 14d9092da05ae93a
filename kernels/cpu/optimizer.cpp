#include "kernels/cpu/optimizer.h"

#include "base/parallel.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace cxr::cpu {

namespace {
constexpr std::int64_t kGrain = 1 << 14;
}

template <class T>
void adamw_update(T* param, T* m, T* v, const T* grad, const AdamWStep& s, std::int64_t n) {
  const T decay = static_cast<T>(1.0 - s.lr * s.weight_decay);
  // 1 - beta is formed in double and rounded once, as torch does with Python floats:
  // in float, 1 - float(0.999) is off by 1.3e-5 relative.
  const T b1 = static_cast<T>(s.beta1), b2 = static_cast<T>(s.beta2);
  const T one_minus_b1 = static_cast<T>(1.0 - s.beta1), one_minus_b2 = static_cast<T>(1.0 - s.beta2);
  const T step_size = static_cast<T>(s.lr / s.bias_correction1);
  const T sqrt_bc2 = static_cast<T>(std::sqrt(s.bias_correction2));
  const T eps = static_cast<T>(s.eps);
  parallel_for(0, n, kGrain, [&](std::int64_t i0, std::int64_t i1) {
#pragma omp simd
    for (std::int64_t i = i0; i < i1; ++i) {
      const T g = grad[i];
      param[i] *= decay;
      m[i] = b1 * m[i] + one_minus_b1 * g;
      v[i] = b2 * v[i] + one_minus_b2 * g * g;
      param[i] -= step_size * m[i] / (std::sqrt(v[i]) / sqrt_bc2 + eps);
    }
  });
}

template <class T>
void sgd_update(T* param, T* buf, const T* grad, const SGDStep& s, std::int64_t n) {
  const T lr = static_cast<T>(s.lr), mu = static_cast<T>(s.momentum);
  const T wd = static_cast<T>(s.weight_decay), damp = static_cast<T>(1.0 - s.dampening);
  parallel_for(0, n, kGrain, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) {
      T g = grad[i] + wd * param[i];
      if (s.momentum != 0.0) {
        buf[i] = s.first_step ? g : mu * buf[i] + damp * g;
        g = s.nesterov ? g + mu * buf[i] : buf[i];
      }
      param[i] -= lr * g;
    }
  });
}

template <class T>
double sum_of_squares(const T* x, std::int64_t n) {
  constexpr std::int64_t kBlock = 1 << 14;  // fixed blocks: same sum for any thread count
  const std::int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(static_cast<std::size_t>(blocks));
  parallel_for(0, blocks, 4, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) {
      double s = 0;
      for (std::int64_t i = b * kBlock, e = std::min(n, (b + 1) * kBlock); i < e; ++i)
        s += static_cast<double>(x[i]) * static_cast<double>(x[i]);
      partial[b] = s;
    }
  });
  double total = 0;
  for (double s : partial) total += s;
  return total;
}

#define CXR_INSTANTIATE(T)                                                             \
  template void adamw_update<T>(T*, T*, T*, const T*, const AdamWStep&, std::int64_t); \
  template void sgd_update<T>(T*, T*, const T*, const SGDStep&, std::int64_t);         \
  template double sum_of_squares<T>(const T*, std::int64_t);
CXR_INSTANTIATE(float)
CXR_INSTANTIATE(double)
#undef CXR_INSTANTIATE

}  // namespace cxr::cpu
