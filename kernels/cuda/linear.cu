// Fully connected layer on cuda::gemm (see linear.h).
#include "kernels/cuda/linear.h"

#include "kernels/cuda/device_utils.cuh"
#include "kernels/cuda/gemm.h"

#include <algorithm>

namespace cxr::cuda {

namespace {

using i64 = std::int64_t;

// y[i, j] = bias[j] for every row i.
template <class T>
__global__ void broadcast_rows_kernel(T* y, const T* bias, i64 rows, i64 cols) {
  for (i64 i = blockIdx.x * static_cast<i64>(blockDim.x) + threadIdx.x; i < rows * cols;
       i += static_cast<i64>(gridDim.x) * blockDim.x)
    y[i] = __ldg(bias + i % cols);
}

// dbias[j] = sum over rows i of dy[i, j], in row order.
template <class T>
__global__ void column_sums_kernel(T* dbias, const T* dy, i64 rows, i64 cols) {
  const i64 j = blockIdx.x * static_cast<i64>(blockDim.x) + threadIdx.x;
  if (j >= cols) return;
  double total = 0;
  for (i64 i = 0; i < rows; ++i) total += static_cast<double>(__ldg(dy + i * cols + j));
  dbias[j] = static_cast<T>(total);
}

unsigned grid_for(i64 n) {
  return static_cast<unsigned>(std::clamp<i64>(blocks_for(n, 256), 1, 8 * sm_count()));
}

}  // namespace

template <class T>
void linear_forward(T* y, const T* x, const T* weight, const T* bias, i64 N, i64 in, i64 out) {
  if (bias && N * out > 0) {
    broadcast_rows_kernel<T><<<grid_for(N * out), 256, 0, stream()>>>(y, bias, N, out);
    CXR_CUDA_LAUNCH_CHECK();
  }
  // y (+)= x W^T
  gemm<T>(false, true, N, out, in, T(1), x, in, weight, in, bias ? T(1) : T(0), y, out);
}

template <class T>
void linear_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight, i64 N, i64 in, i64 out) {
  if (dx) gemm<T>(false, false, N, in, out, T(1), dy, out, weight, in, T(0), dx, in);
  if (dweight) gemm<T>(true, false, out, in, N, T(1), dy, out, x, in, T(0), dweight, in);
  if (dbias && out > 0) {
    column_sums_kernel<T><<<blocks_for(out, 256), 256, 0, stream()>>>(dbias, dy, N, out);
    CXR_CUDA_LAUNCH_CHECK();
  }
}

#define CXR_INSTANTIATE(T)                                                          \
  template void linear_forward<T>(T*, const T*, const T*, const T*, i64, i64, i64); \
  template void linear_backward<T>(T*, T*, T*, const T*, const T*, const T*, i64, i64, i64);
CXR_INSTANTIATE(float)
CXR_INSTANTIATE(double)
#undef CXR_INSTANTIATE

}  // namespace cxr::cuda
