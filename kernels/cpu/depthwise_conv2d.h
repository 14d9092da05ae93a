// Depthwise 3x3 convolution (groups == C_in == C_out): every channel is filtered by
// its own 3x3 kernel, so there is no channel sum to hand to a GEMM. Direct loops:
//
//   y[n, c, oh, ow] = b[c] + sum_{kh, kw < 3} w[c, kh, kw] * x[n, c, oh*s - p + kh, ow*s - p + kw]
//   dx[n, c, ih, iw] = sum of w[c, kh, kw] * dy[n, c, oh, ow] over the (oh, ow, kh, kw) that read (ih, iw)
//   dw[c, kh, kw]    = sum_{n, oh, ow} dy[n, c, oh, ow] * x[n, c, oh*s - p + kh, ow*s - p + kw]
//
// Shape legend: N batch, C channels, H x W input, H_out x W_out output, s stride, p padding.
// Output pixels whose 3x3 window lies inside the image take a branch-free vectorised
// loop; the border ring checks bounds pixel by pixel. The forward runs in parallel
// over (n, c) planes; the backward over channels, each looping over n in order, so
// dw is bit-identical for any thread count. The input gradient at stride 1 is the
// forward kernel run on dy with the flipped 3x3 kernel and padding 2 - p; at stride 2
// the input columns split by parity into two contiguous sums; other strides scatter.
#pragma once

#include "kernels/cpu/conv2d.h"

namespace cxr::cpu {

template <class T>
void depthwise_conv2d_forward(T* y, const T* x, const T* weight, const T* bias, const Conv2dShape& s,
                              bool relu = false);

// Same contract as conv2d_backward.
template <class T>
void depthwise_conv2d_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight,
                               const Conv2dShape& s);

}  // namespace cxr::cpu
