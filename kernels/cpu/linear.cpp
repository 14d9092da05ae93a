// Fully connected layer on the GEMM (see linear.h).
#include "kernels/cpu/linear.h"

#include "kernels/cpu/gemm.h"

#include <algorithm>
#include <vector>

namespace cxr::cpu {

template <class T>
void linear_forward(T* y, const T* x, const T* weight, const T* bias, std::int64_t N, std::int64_t in,
                    std::int64_t out) {
  if (bias)
    for (std::int64_t i = 0; i < N; ++i) std::copy(bias, bias + out, y + i * out);
  // y (+)= x W^T
  gemm_parallel<T>(false, true, N, out, in, T(1), x, in, weight, in, bias ? T(1) : T(0), y, out);
}

template <class T>
void linear_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight, std::int64_t N,
                     std::int64_t in, std::int64_t out) {
  if (dx) gemm_parallel<T>(false, false, N, in, out, T(1), dy, out, weight, in, T(0), dx, in);
  if (dweight) gemm_parallel<T>(true, false, out, in, N, T(1), dy, out, x, in, T(0), dweight, in);
  if (dbias) {
    std::vector<double> sum(static_cast<std::size_t>(out), 0.0);
    for (std::int64_t i = 0; i < N; ++i)
      for (std::int64_t j = 0; j < out; ++j) sum[j] += dy[i * out + j];
    for (std::int64_t j = 0; j < out; ++j) dbias[j] = static_cast<T>(sum[j]);
  }
}

#define CXR_INSTANTIATE(T)                                                                                     \
  template void linear_forward<T>(T*, const T*, const T*, const T*, std::int64_t, std::int64_t, std::int64_t); \
  template void linear_backward<T>(T*, T*, T*, const T*, const T*, const T*, std::int64_t, std::int64_t, std::int64_t);
CXR_INSTANTIATE(float)
CXR_INSTANTIATE(double)
#undef CXR_INSTANTIATE

}  // namespace cxr::cpu
