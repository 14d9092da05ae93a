#include "kernels/cpu/elementwise.h"

#include "base/parallel.h"
#include "kernels/common/counter_random.h"

#include <algorithm>
#include <vector>

namespace cxr::cpu {

namespace {
constexpr std::int64_t kGrain = 1 << 15;  // elements per task: ~128 KiB of float32
}

template <class T>
void fill(T* dst, T value, std::int64_t n) {
  std::fill_n(dst, n, value);
}

template <class T>
void add_forward(T* out, const T* a, const T* b, std::int64_t n) {
  parallel_for(0, n, kGrain, [&](std::int64_t i0, std::int64_t i1) {
#pragma omp simd
    for (std::int64_t i = i0; i < i1; ++i) out[i] = a[i] + b[i];
  });
}

template <class T>
void add_inplace(T* a, const T* b, std::int64_t n) {
  parallel_for(0, n, kGrain, [&](std::int64_t i0, std::int64_t i1) {
#pragma omp simd
    for (std::int64_t i = i0; i < i1; ++i) a[i] += b[i];
  });
}

template <class T>
void scale_forward(T* out, const T* x, T s, std::int64_t n) {
  parallel_for(0, n, kGrain, [&](std::int64_t i0, std::int64_t i1) {
#pragma omp simd
    for (std::int64_t i = i0; i < i1; ++i) out[i] = x[i] * s;
  });
}

template <class T>
void scale_inplace(T* a, T s, std::int64_t n) {
  parallel_for(0, n, kGrain, [&](std::int64_t i0, std::int64_t i1) {
#pragma omp simd
    for (std::int64_t i = i0; i < i1; ++i) a[i] *= s;
  });
}

template <class T>
void relu_forward(T* out, const T* x, std::int64_t n) {
  parallel_for(0, n, kGrain, [&](std::int64_t i0, std::int64_t i1) {
#pragma omp simd
    for (std::int64_t i = i0; i < i1; ++i) out[i] = x[i] > T(0) ? x[i] : T(0);
  });
}

template <class T>
void relu_backward(T* dx, const T* out, const T* dout, std::int64_t n) {
  parallel_for(0, n, kGrain, [&](std::int64_t i0, std::int64_t i1) {
#pragma omp simd
    for (std::int64_t i = i0; i < i1; ++i) {
      const T g = dout[i];  // loaded unconditionally, so the select vectorises
      dx[i] = out[i] > T(0) ? g : T(0);
    }
  });
}

template <class T>
void dropout_forward(T* out, const T* x, double p, std::uint64_t key, std::int64_t n) {
  const T keep_scale = static_cast<T>(1.0 / (1.0 - p));
  parallel_for(0, n, kGrain, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i)
      out[i] = uniform_at(key, static_cast<std::uint64_t>(i)) >= p ? x[i] * keep_scale : T(0);
  });
}

template <class T>
void dropout_backward(T* dx, const T* dout, double p, std::uint64_t key, std::int64_t n) {
  dropout_forward(dx, dout, p, key, n);  // the same mask and scale: d(out)/d(x) is diagonal
}

template <class T>
double sum_forward(const T* x, std::int64_t n) {
  // One partial per fixed-size block, summed in block order: the same result for
  // any thread count.
  constexpr std::int64_t kBlock = 1 << 14;
  const std::int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(static_cast<std::size_t>(blocks), 0.0);
  parallel_for(0, blocks, 4, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) {
      double s = 0;
      const std::int64_t end = std::min(n, (b + 1) * kBlock);
      for (std::int64_t i = b * kBlock; i < end; ++i) s += static_cast<double>(x[i]);
      partial[b] = s;
    }
  });
  double total = 0;
  for (double s : partial) total += s;
  return total;
}

#define CXR_INSTANTIATE(T)                                                              \
  template void fill<T>(T*, T, std::int64_t);                                           \
  template void add_forward<T>(T*, const T*, const T*, std::int64_t);                   \
  template void add_inplace<T>(T*, const T*, std::int64_t);                             \
  template void scale_forward<T>(T*, const T*, T, std::int64_t);                        \
  template void scale_inplace<T>(T*, T, std::int64_t);                                  \
  template void relu_forward<T>(T*, const T*, std::int64_t);                            \
  template void relu_backward<T>(T*, const T*, const T*, std::int64_t);                 \
  template void dropout_forward<T>(T*, const T*, double, std::uint64_t, std::int64_t);  \
  template void dropout_backward<T>(T*, const T*, double, std::uint64_t, std::int64_t); \
  template double sum_forward<T>(const T*, std::int64_t);
CXR_INSTANTIATE(float)
CXR_INSTANTIATE(double)
#undef CXR_INSTANTIATE

}  // namespace cxr::cpu
