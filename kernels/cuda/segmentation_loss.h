// Binary cross-entropy on logits and the soft Dice loss on device arrays: the GPU side
// of kernels/cpu/segmentation_loss.h, same names, arguments and meaning (stats is a
// device array of 3 * maps doubles). The forward passes wait for the stream to hand
// the loss to the host.
#pragma once

#include <cstdint>

namespace cxr::cuda {

template <class T>
double bce_with_logits_forward(const T* logits, const T* targets, std::int64_t n);
template <class T>
void bce_with_logits_backward(T* dlogits, const T* logits, const T* targets, double dloss, std::int64_t n);
template <class T>
double soft_dice_forward(double* stats, const T* probs, const T* targets, std::int64_t maps, std::int64_t HW,
                         double smooth);
template <class T>
void soft_dice_backward(T* dprobs, const double* stats, const T* targets, double dloss, std::int64_t maps,
                        std::int64_t HW, double smooth);

}  // namespace cxr::cuda
