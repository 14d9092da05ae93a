// 2-D convolution (cross-correlation, as in PyTorch) on NCHW tensors.
//
// Shape legend:
//   N batch, C_in / C_out channels, H x W input, H_out x W_out output,
//   K square kernel, s stride, p zero padding, G groups
//   (each group maps C_in/G input channels to C_out/G output channels).
//
//   y[n, co, oh, ow] = b[co] + sum over ci of co's group, kh, kw of
//                      w[co, ci mod C_in/G, kh, kw] * x[n, ci, oh*s - p + kh, ow*s - p + kw]
//
// conv2d_forward / conv2d_backward pick the path for the shape:
//   pointwise 1x1, stride 1, pad 0, G = 1   -> pointwise_conv2d.h: a GEMM on each NCHW image
//   depthwise 3x3, G = C_in = C_out         -> depthwise_conv2d.h: direct vectorised loops
//   anything else                           -> im2col + GEMM (dx by GEMM + col2im), here
// All paths are multithreaded; each result is bit-identical run to run for a fixed
// thread count. The *_reference functions are the textbook loops the tests use.
#pragma once

#include "kernels/common/shapes.h"  // Conv2dShape, conv2d_shape, is_pointwise, is_depthwise3x3

#include <cstdint>

namespace cxr::cpu {

// y [N, C_out, H_out, W_out]; x [N, C_in, H, W]; weight [C_out, C_in/G, K, K]; bias [C_out] or null.
// relu: y = max(y, 0), applied to each block of y while it is still in cache (the
// fused conv + ReLU of inference, where batch norm is folded into weight and bias).
template <class T>
void conv2d_forward(T* y, const T* x, const T* weight, const T* bias, const Conv2dShape& s, bool relu = false);

// Overwrites dx [N, C_in, H, W], dweight [C_out, C_in/G, K, K] and dbias [C_out]; a
// null output is skipped (then x is unused without dweight, weight without dx).
template <class T>
void conv2d_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight, const Conv2dShape& s);

// The im2col + GEMM path for any shape (what the dispatcher uses outside the fast paths).
template <class T>
void conv2d_im2col_forward(T* y, const T* x, const T* weight, const T* bias, const Conv2dShape& s, bool relu = false);
template <class T>
void conv2d_im2col_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight,
                            const Conv2dShape& s);

// dbias[c] = sum over n and pixels of dy[n, c, :], accumulated in double in a fixed
// order (independent of the thread count); every path uses it.
template <class T>
void conv2d_bias_backward(T* dbias, const T* dy, const Conv2dShape& s);

// The outputs o in [*lo, *hi) whose tap k reads inside the input: 0 <= o*stride - pad + k < n_in.
inline void conv2d_valid_range(std::int64_t n_out, std::int64_t n_in, std::int64_t stride, std::int64_t pad,
                               std::int64_t k, std::int64_t* lo, std::int64_t* hi) {
  const std::int64_t first = pad - k, last = n_in - 1 + pad - k;  // o*stride in [first, last]
  *lo = first <= 0 ? 0 : (first + stride - 1) / stride;
  *hi = last < 0 ? 0 : last / stride + 1;
  if (*lo > n_out) *lo = n_out;
  if (*hi > n_out) *hi = n_out;
  if (*hi < *lo) *hi = *lo;
}

// Textbook loops (double accumulation), the ground truth of the tests.
template <class T>
void conv2d_forward_reference(T* y, const T* x, const T* weight, const T* bias, const Conv2dShape& s);
template <class T>
void conv2d_backward_reference(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight,
                               const Conv2dShape& s);

}  // namespace cxr::cpu
