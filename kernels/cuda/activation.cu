// Activations: sigmoid, tanh, leaky ReLU and their backward passes.
//
// Shape legend: n elements of flat, contiguous device arrays.
// Decomposition: one thread per element in a grid-stride loop (launch.cuh), coalesced.
// Bound by memory bandwidth. Sigmoid takes the CPU's branch (exp of a non-positive
// number only); CUDA's exp and tanh differ from glibc's by a few ulps, so results
// match the CPU within a small relative tolerance, not bit for bit.
#include "kernels/cuda/activation.h"

#include "kernels/cuda/launch.cuh"

namespace cxr::cuda {

namespace {

template <class T>
__device__ __forceinline__ T stable_sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + exp(-x));
  const T e = exp(x);
  return e / (T(1) + e);
}

template <class T>
__global__ void sigmoid_kernel(T* out, const T* x, std::int64_t n) {
  for (std::int64_t i = first_index(); i < n; i += grid_stride()) out[i] = stable_sigmoid(x[i]);
}

template <class T>
__global__ void sigmoid_backward_kernel(T* dx, const T* out, const T* dout, std::int64_t n) {
  for (std::int64_t i = first_index(); i < n; i += grid_stride()) dx[i] = dout[i] * (out[i] * (T(1) - out[i]));
}

template <class T>
__global__ void tanh_kernel(T* out, const T* x, std::int64_t n) {
  for (std::int64_t i = first_index(); i < n; i += grid_stride()) out[i] = tanh(x[i]);
}

template <class T>
__global__ void tanh_backward_kernel(T* dx, const T* out, const T* dout, std::int64_t n) {
  for (std::int64_t i = first_index(); i < n; i += grid_stride()) dx[i] = dout[i] * (T(1) - out[i] * out[i]);
}

template <class T>
__global__ void leaky_relu_kernel(T* out, const T* x, T slope, std::int64_t n) {
  for (std::int64_t i = first_index(); i < n; i += grid_stride()) out[i] = x[i] > T(0) ? x[i] : slope * x[i];
}

template <class T>
__global__ void leaky_relu_backward_kernel(T* dx, const T* x, const T* dout, T slope, std::int64_t n) {
  for (std::int64_t i = first_index(); i < n; i += grid_stride()) dx[i] = x[i] > T(0) ? dout[i] : slope * dout[i];
}

}  // namespace

template <class T>
void sigmoid_forward(T* out, const T* x, std::int64_t n) {
  if (n <= 0) return;
  sigmoid_kernel<<<grid_stride_blocks(n), kElementThreads, 0, stream()>>>(out, x, n);
  CXR_CUDA_LAUNCH_CHECK();
}

template <class T>
void sigmoid_backward(T* dx, const T* out, const T* dout, std::int64_t n) {
  if (n <= 0) return;
  sigmoid_backward_kernel<<<grid_stride_blocks(n), kElementThreads, 0, stream()>>>(dx, out, dout, n);
  CXR_CUDA_LAUNCH_CHECK();
}

template <class T>
void tanh_forward(T* out, const T* x, std::int64_t n) {
  if (n <= 0) return;
  tanh_kernel<<<grid_stride_blocks(n), kElementThreads, 0, stream()>>>(out, x, n);
  CXR_CUDA_LAUNCH_CHECK();
}

template <class T>
void tanh_backward(T* dx, const T* out, const T* dout, std::int64_t n) {
  if (n <= 0) return;
  tanh_backward_kernel<<<grid_stride_blocks(n), kElementThreads, 0, stream()>>>(dx, out, dout, n);
  CXR_CUDA_LAUNCH_CHECK();
}

template <class T>
void leaky_relu_forward(T* out, const T* x, T slope, std::int64_t n) {
  if (n <= 0) return;
  leaky_relu_kernel<<<grid_stride_blocks(n), kElementThreads, 0, stream()>>>(out, x, slope, n);
  CXR_CUDA_LAUNCH_CHECK();
}

template <class T>
void leaky_relu_backward(T* dx, const T* x, const T* dout, T slope, std::int64_t n) {
  if (n <= 0) return;
  leaky_relu_backward_kernel<<<grid_stride_blocks(n), kElementThreads, 0, stream()>>>(dx, x, dout, slope, n);
  CXR_CUDA_LAUNCH_CHECK();
}

#define CXR_INSTANTIATE(T)                                                 \
  template void sigmoid_forward<T>(T*, const T*, std::int64_t);            \
  template void sigmoid_backward<T>(T*, const T*, const T*, std::int64_t); \
  template void tanh_forward<T>(T*, const T*, std::int64_t);               \
  template void tanh_backward<T>(T*, const T*, const T*, std::int64_t);    \
  template void leaky_relu_forward<T>(T*, const T*, T, std::int64_t);      \
  template void leaky_relu_backward<T>(T*, const T*, const T*, T, std::int64_t);
CXR_INSTANTIATE(float)
CXR_INSTANTIATE(double)
#undef CXR_INSTANTIATE

}  // namespace cxr::cuda
