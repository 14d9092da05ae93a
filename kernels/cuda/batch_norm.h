// Batch normalisation of NCHW activations on the GPU, the CUDA counterpart of
// kernels/cpu/batch_norm.h: same names, arguments and formulas (see there),
// device pointers, the same running-statistics update as PyTorch and the CPU,
// and `relu` fusing the following ReLU (the backward then masks dy with the
// fused output).
//
// Shape legend: N batch, C channels, HW pixels per map, M = N*HW values per channel.
//
// Decomposition, all passes deterministic (no atomics):
//   statistics: channel_reduce.cuh's two-pass reduction: block (c, chunk) sums
//     x - shift and (x - shift)^2 in double over its chunk of channel c (shift =
//     the channel's first value, the CPU's shifted one-pass algorithm), then one
//     thread per channel adds the chunks in order and derives mean, invstd, the
//     running statistics and the per-channel scale gamma * invstd;
//   normalisation and the input gradient: blocks own segments of one (n, c) map,
//     so the channel's constants are loaded once per block, and stream through it
//     with 16-byte vectors when the map is aligned;
//   backward sums sum(dy) and sum(dy * (x - mean)) use the same two-pass reduction.
#pragma once

#include <cstdint>

namespace cxr::cuda {

template <class T>
void batch_norm_forward_train(T* out, T* save_mean, T* save_invstd, T* running_mean, T* running_var, const T* x,
                              const T* gamma, const T* beta, std::int64_t N, std::int64_t C, std::int64_t HW,
                              double momentum, double eps, bool relu = false);

template <class T>
void batch_norm_forward_eval(T* out, T* save_invstd, const T* x, const T* gamma, const T* beta, const T* running_mean,
                             const T* running_var, std::int64_t N, std::int64_t C, std::int64_t HW, double eps,
                             bool relu = false);

template <class T>
void batch_norm_backward(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x, const T* mean, const T* invstd,
                         const T* gamma, std::int64_t N, std::int64_t C, std::int64_t HW, bool training,
                         const T* relu_out = nullptr);

}  // namespace cxr::cuda
