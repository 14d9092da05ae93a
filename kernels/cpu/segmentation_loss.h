// The pixelwise losses of segmentation: binary cross-entropy on logits and the soft
// Dice loss on probabilities. Loss values are accumulated in double and reach the host.
// Shape legend: n elements; maps = N*C maps of HW pixels each (NCHW, contiguous).
#pragma once

#include <cstdint>

namespace cxr::cpu {

// Mean over n elements of max(x, 0) - x*t + log(1 + exp(-|x|)), which equals
// -[t log sigmoid(x) + (1-t) log(1 - sigmoid(x))] without overflow (torch's
// binary_cross_entropy_with_logits, reduction "mean"). Targets t in [0, 1].
template <class T>
double bce_with_logits_forward(const T* logits, const T* targets, std::int64_t n);
// dlogits = dloss * (sigmoid(x) - t) / n.
template <class T>
void bce_with_logits_backward(T* dlogits, const T* logits, const T* targets, double dloss, std::int64_t n);

// Soft Dice loss, the mean over maps of 1 - (2 I + s) / (P + G + s) with, per map,
// I = sum p*t, P = sum p, G = sum t and the smoothing s (Milletari et al. 2016 use
// squares in the denominator; this is the plain-sum form). stats[3m .. 3m+2] gets
// I, P, G of map m (for the backward).
template <class T>
double soft_dice_forward(double* stats, const T* probs, const T* targets, std::int64_t maps, std::int64_t HW,
                         double smooth);
// dprobs = dloss / maps * -(2 t D - (2 I + s)) / D^2 with D = P + G + s of the map.
template <class T>
void soft_dice_backward(T* dprobs, const double* stats, const T* targets, double dloss, std::int64_t maps,
                        std::int64_t HW, double smooth);

}  // namespace cxr::cpu
