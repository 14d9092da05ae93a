// Pointwise (1x1, stride 1, no padding, one group) convolution as GEMMs on the
// NCHW layout, with no im2col copy: image n is a [C, H*W] row-major matrix, so
//
//   Y[n]  = W X[n] (+ b)           [C_out, HW] = [C_out, C_in] [C_in, HW]
//   dX[n] = W^T dY[n]              [C_in, HW]  = [C_in, C_out] [C_out, HW]
//   dW    = sum_n dY[n] X[n]^T     [C_out, C_in]
//
// Shape legend: N batch, C_in / C_out channels, HW = H*W pixels.
// Work is split into (image, pixel chunk) tasks (conv2d_tasks.h); dW sums per-thread
// partials in thread order.
#pragma once

#include "kernels/cpu/conv2d.h"

namespace cxr::cpu {

template <class T>
void pointwise_conv2d_forward(T* y, const T* x, const T* weight, const T* bias, const Conv2dShape& s,
                              bool relu = false);

// Same contract as conv2d_backward.
template <class T>
void pointwise_conv2d_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight,
                               const Conv2dShape& s);

}  // namespace cxr::cpu
