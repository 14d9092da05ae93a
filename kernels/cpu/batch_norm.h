// Batch normalisation of NCHW activations, per channel (Ioffe & Szegedy 2015).
//
// Shape legend: N batch, C channels, HW = H*W pixels per map; x, out, dy, dx are
// [N, C, HW]; gamma, beta, means, variances [C]. Channel c normalises the
// M = N*HW values x[:, c, :].
//
// Training normalises with the batch mean and biased variance, accumulated in double
// in one pass over x shifted by the channel's first value, so a large mean cannot
// cancel the variance away (see map_shifted_sums). The running statistics follow PyTorch:
// running = (1 - momentum) * running + momentum * batch, with the unbiased variance
// var * M / (M - 1). Evaluation normalises with the running statistics. Work is
// split over channels (over maps for evaluation); every channel is reduced by one
// thread in a fixed order, so results do not depend on the thread count.
// With `relu` the output is max(out, 0): batch norm and the ReLU after it in one
// pass (the backward then takes the fused output to mask dy), saving a full read
// and write of the activation each way.
// Convention (as in llm.c): outputs first, then inputs; d-prefixed names are gradients.
#pragma once

#include <cstdint>

namespace cxr::cpu {

// out = (x - mean) * invstd * gamma + beta with the batch statistics
//   mean = sum(x) / M, var = sum((x - mean)^2) / M, invstd = 1 / sqrt(var + eps);
// writes save_mean, save_invstd [C] for the backward and updates running_mean,
// running_var [C] in place. Needs M >= 2.
template <class T>
void batch_norm_forward_train(T* out, T* save_mean, T* save_invstd, T* running_mean, T* running_var, const T* x,
                              const T* gamma, const T* beta, std::int64_t N, std::int64_t C, std::int64_t HW,
                              double momentum, double eps, bool relu = false);

// out = (x - running_mean) * invstd * gamma + beta, invstd = 1 / sqrt(running_var + eps);
// writes save_invstd [C] for the backward.
template <class T>
void batch_norm_forward_eval(T* out, T* save_invstd, const T* x, const T* gamma, const T* beta, const T* running_mean,
                             const T* running_var, std::int64_t N, std::int64_t C, std::int64_t HW, double eps,
                             bool relu = false);

// With xhat = (x - mean) * invstd (mean, invstd as the forward used them):
//   dgamma = sum(dy * xhat), dbeta = sum(dy)
//   training:   dx = gamma * invstd / M * (M * dy - dbeta - xhat * dgamma)
//   evaluation: dx = gamma * invstd * dy (the statistics are constants)
// dx may be null when the input needs no gradient. relu_out, when not null, is the
// output of a fused forward: dy is then taken as zero where relu_out <= 0.
template <class T>
void batch_norm_backward(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x, const T* mean, const T* invstd,
                         const T* gamma, std::int64_t N, std::int64_t C, std::int64_t HW, bool training,
                         const T* relu_out = nullptr);

}  // namespace cxr::cpu
