// Cross-entropy against soft targets on device arrays: the GPU side of
// kernels/cpu/soft_target_loss.h, same names, arguments and meaning. The forward waits
// for the stream to hand the loss to the host.
#pragma once

#include <cstdint>

namespace cxr::cuda {

template <class T>
double soft_target_cross_entropy_forward(T* logp, const T* logits, const T* targets, std::int64_t N, std::int64_t C);
template <class T>
void soft_target_cross_entropy_backward(T* dlogits, const T* logp, const T* targets, double dloss, std::int64_t N,
                                        std::int64_t C);

}  // namespace cxr::cuda
