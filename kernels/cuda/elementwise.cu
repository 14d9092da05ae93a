// Elementwise kernels: add, scale, relu, dropout and the sum of all elements.
//
// Shape legend: n elements of flat, contiguous device arrays.
// Decomposition: one thread per element in a grid-stride loop (launch.cuh), 64-bit
// indices; consecutive threads touch consecutive elements, so every access is
// coalesced. These kernels are bound by memory bandwidth; the arithmetic matches
// the CPU's operation for operation (a + b, x * s, the same select for relu), so
// results are identical to the CPU's. Dropout hashes (key, i) with the CPU's
// uniform_at, so its mask is the CPU's for any grid. The sum goes through the
// fixed-order two-pass reduction of reduce.cuh.
#include "kernels/cuda/elementwise.h"

#include "kernels/common/counter_random.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/reduce.cuh"

namespace cxr::cuda {

namespace {

template <class T>
__global__ void add_kernel(T* out, const T* a, const T* b, std::int64_t n) {
  for (std::int64_t i = first_index(); i < n; i += grid_stride()) out[i] = a[i] + b[i];
}

template <class T>
__global__ void scale_kernel(T* out, const T* x, T s, std::int64_t n) {
  for (std::int64_t i = first_index(); i < n; i += grid_stride()) out[i] = x[i] * s;
}

template <class T>
__global__ void relu_kernel(T* out, const T* x, std::int64_t n) {
  for (std::int64_t i = first_index(); i < n; i += grid_stride()) out[i] = x[i] > T(0) ? x[i] : T(0);
}

template <class T>
__global__ void relu_backward_kernel(T* dx, const T* out, const T* dout, std::int64_t n) {
  for (std::int64_t i = first_index(); i < n; i += grid_stride()) dx[i] = out[i] > T(0) ? dout[i] : T(0);
}

template <class T>
__global__ void dropout_kernel(T* out, const T* x, double p, T keep_scale, std::uint64_t key, std::int64_t n) {
  for (std::int64_t i = first_index(); i < n; i += grid_stride())
    out[i] = uniform_at(key, static_cast<std::uint64_t>(i)) >= p ? x[i] * keep_scale : T(0);
}

template <class T>
struct AsDouble {
  const T* x;
  __device__ double operator()(std::int64_t i) const { return static_cast<double>(x[i]); }
};

}  // namespace

template <class T>
void add_forward(T* out, const T* a, const T* b, std::int64_t n) {
  if (n <= 0) return;
  add_kernel<<<grid_stride_blocks(n), kElementThreads, 0, stream()>>>(out, a, b, n);
  CXR_CUDA_LAUNCH_CHECK();
}

template <class T>
void add_inplace(T* a, const T* b, std::int64_t n) {
  add_forward(a, a, b, n);
}

template <class T>
void scale_forward(T* out, const T* x, T s, std::int64_t n) {
  if (n <= 0) return;
  scale_kernel<<<grid_stride_blocks(n), kElementThreads, 0, stream()>>>(out, x, s, n);
  CXR_CUDA_LAUNCH_CHECK();
}

template <class T>
void scale_inplace(T* a, T s, std::int64_t n) {
  scale_forward(a, a, s, n);
}

template <class T>
void relu_forward(T* out, const T* x, std::int64_t n) {
  if (n <= 0) return;
  relu_kernel<<<grid_stride_blocks(n), kElementThreads, 0, stream()>>>(out, x, n);
  CXR_CUDA_LAUNCH_CHECK();
}

template <class T>
void relu_backward(T* dx, const T* out, const T* dout, std::int64_t n) {
  if (n <= 0) return;
  relu_backward_kernel<<<grid_stride_blocks(n), kElementThreads, 0, stream()>>>(dx, out, dout, n);
  CXR_CUDA_LAUNCH_CHECK();
}

template <class T>
void dropout_forward(T* out, const T* x, double p, std::uint64_t key, std::int64_t n) {
  if (n <= 0) return;
  const T keep_scale = static_cast<T>(1.0 / (1.0 - p));  // as the CPU: formed in double, rounded once
  dropout_kernel<<<grid_stride_blocks(n), kElementThreads, 0, stream()>>>(out, x, p, keep_scale, key, n);
  CXR_CUDA_LAUNCH_CHECK();
}

template <class T>
void dropout_backward(T* dx, const T* dout, double p, std::uint64_t key, std::int64_t n) {
  dropout_forward(dx, dout, p, key, n);  // the same mask and scale: d(out)/d(x) is diagonal
}

template <class T>
double sum_forward(const T* x, std::int64_t n) {
  return reduce_sum(AsDouble<T>{x}, n);
}

#define CXR_INSTANTIATE(T)                                                              \
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

}  // namespace cxr::cuda
