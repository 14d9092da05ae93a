// AdamW and SGD as one fused kernel each over the flat parameter buffer, and the
// squared global norm of gradient clipping.
//
// Shape legend: n parameters; param, grad and the optimizer state are flat arrays.
// Decomposition: one thread per parameter in a grid-stride loop; each thread reads
// its gradient and state once, updates them in registers and writes them back, so
// a step costs one pass over memory. The constants are formed on the host exactly as
// kernels/cpu/optimizer.cpp forms them and the per-element arithmetic is the CPU's,
// in the same order, with IEEE-rounded division and square root; the compilers fuse
// different products into FMAs (GCC and nvcc each where they see fit), so an update
// agrees with the CPU's to a few ulps.
// The norm uses the fixed-order two-pass reduction of reduce.cuh (deterministic).
#include "kernels/cuda/optimizer.h"

#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/reduce.cuh"

#include <cmath>

namespace cxr::cuda {

namespace {

__device__ __forceinline__ float sqrt_of(float v) {
  return sqrtf(v);
}
__device__ __forceinline__ double sqrt_of(double v) {
  return sqrt(v);
}

template <class T>
struct AdamWConstants {
  T decay, b1, b2, one_minus_b1, one_minus_b2, step_size, sqrt_bc2, eps;
};

template <class T>
__global__ void adamw_kernel(T* param, T* m, T* v, const T* grad, AdamWConstants<T> k, std::int64_t n) {
  for (std::int64_t i = first_index(); i < n; i += grid_stride()) {
    const T g = grad[i];
    T p = param[i] * k.decay;
    const T mi = k.b1 * m[i] + k.one_minus_b1 * g;
    const T vi = k.b2 * v[i] + k.one_minus_b2 * g * g;
    p -= k.step_size * mi / (sqrt_of(vi) / k.sqrt_bc2 + k.eps);
    m[i] = mi;
    v[i] = vi;
    param[i] = p;
  }
}

template <class T>
struct SGDConstants {
  T lr, mu, wd, damp;
  bool use_momentum, nesterov, first_step;
};

template <class T>
__global__ void sgd_kernel(T* param, T* buf, const T* grad, SGDConstants<T> k, std::int64_t n) {
  for (std::int64_t i = first_index(); i < n; i += grid_stride()) {
    const T p = param[i];
    T g = grad[i] + k.wd * p;
    if (k.use_momentum) {
      const T b = k.first_step ? g : k.mu * buf[i] + k.damp * g;
      buf[i] = b;
      g = k.nesterov ? g + k.mu * b : b;
    }
    param[i] = p - k.lr * g;
  }
}

template <class T>
struct Square {
  const T* x;
  __device__ double operator()(std::int64_t i) const {
    const double v = static_cast<double>(x[i]);
    return v * v;
  }
};

}  // namespace

template <class T>
void adamw_update(T* param, T* m, T* v, const T* grad, const AdamWStep& s, std::int64_t n) {
  if (n <= 0) return;
  // As the CPU: 1 - beta formed in double and rounded once.
  const AdamWConstants<T> k{static_cast<T>(1.0 - s.lr * s.weight_decay),
                            static_cast<T>(s.beta1),
                            static_cast<T>(s.beta2),
                            static_cast<T>(1.0 - s.beta1),
                            static_cast<T>(1.0 - s.beta2),
                            static_cast<T>(s.lr / s.bias_correction1),
                            static_cast<T>(std::sqrt(s.bias_correction2)),
                            static_cast<T>(s.eps)};
  adamw_kernel<<<grid_stride_blocks(n), kElementThreads, 0, stream()>>>(param, m, v, grad, k, n);
  CXR_CUDA_LAUNCH_CHECK();
}

template <class T>
void sgd_update(T* param, T* buf, const T* grad, const SGDStep& s, std::int64_t n) {
  if (n <= 0) return;
  const SGDConstants<T> k{static_cast<T>(s.lr),
                          static_cast<T>(s.momentum),
                          static_cast<T>(s.weight_decay),
                          static_cast<T>(1.0 - s.dampening),
                          s.momentum != 0.0,
                          s.nesterov,
                          s.first_step};
  sgd_kernel<<<grid_stride_blocks(n), kElementThreads, 0, stream()>>>(param, buf, grad, k, n);
  CXR_CUDA_LAUNCH_CHECK();
}

template <class T>
double sum_of_squares(const T* x, std::int64_t n) {
  return reduce_sum(Square<T>{x}, n);
}

#define CXR_INSTANTIATE(T)                                                             \
  template void adamw_update<T>(T*, T*, T*, const T*, const AdamWStep&, std::int64_t); \
  template void sgd_update<T>(T*, T*, const T*, const SGDStep&, std::int64_t);         \
  template double sum_of_squares<T>(const T*, std::int64_t);
CXR_INSTANTIATE(float)
CXR_INSTANTIATE(double)
#undef CXR_INSTANTIATE

}  // namespace cxr::cuda
