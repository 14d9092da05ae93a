// Cross-entropy against soft targets (knowledge distillation).
//
// Shape legend: N rows of C classes. Decomposition: log_softmax is the kernel of
// softmax.cu; the loss sum -q*logp goes through the fixed-order reduction of
// reduce.cuh (deterministic); the backward is one thread per element, each summing its
// row's targets (C is a handful of classes). Sums in double; CUDA's exp differs from
// glibc's by a few ulps, so values match the CPU within a small relative tolerance.
#include "kernels/cuda/soft_target_loss.h"

#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda/softmax.h"

namespace cxr::cuda {

namespace {

template <class T>
struct SoftTargetTerm {
  const T* logp;
  const T* targets;
  __device__ double operator()(std::int64_t k) const {
    return -static_cast<double>(targets[k]) * static_cast<double>(logp[k]);
  }
};

template <class T>
__global__ void soft_target_backward_kernel(T* dlogits, const T* logp, const T* targets, double scale, std::int64_t N,
                                            std::int64_t C) {
  for (std::int64_t k = first_index(); k < N * C; k += grid_stride()) {
    const T* row = targets + (k / C) * C;
    double mass = 0;
    for (std::int64_t j = 0; j < C; ++j) mass += static_cast<double>(row[j]);
    dlogits[k] = static_cast<T>(scale * (exp(static_cast<double>(logp[k])) * mass - static_cast<double>(targets[k])));
  }
}

}  // namespace

template <class T>
double soft_target_cross_entropy_forward(T* logp, const T* logits, const T* targets, std::int64_t N, std::int64_t C) {
  if (N <= 0 || C <= 0) return 0.0;
  log_softmax_forward(logp, logits, N, C);
  return reduce_sum(SoftTargetTerm<T>{logp, targets}, N * C) / static_cast<double>(N);
}

template <class T>
void soft_target_cross_entropy_backward(T* dlogits, const T* logp, const T* targets, double dloss, std::int64_t N,
                                        std::int64_t C) {
  if (N <= 0 || C <= 0) return;
  soft_target_backward_kernel<<<grid_stride_blocks(N * C), kElementThreads, 0, stream()>>>(
      dlogits, logp, targets, dloss / static_cast<double>(N), N, C);
  CXR_CUDA_LAUNCH_CHECK();
}

#define CXR_INSTANTIATE(T)                                                                                  \
  template double soft_target_cross_entropy_forward<T>(T*, const T*, const T*, std::int64_t, std::int64_t); \
  template void soft_target_cross_entropy_backward<T>(T*, const T*, const T*, double, std::int64_t, std::int64_t);
CXR_INSTANTIATE(float)
CXR_INSTANTIATE(double)
#undef CXR_INSTANTIATE

}  // namespace cxr::cuda
