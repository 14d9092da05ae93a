// 2-D convolution on the GPU (NCHW, cross-correlation as in PyTorch), the CUDA
// counterpart of kernels/cpu/conv2d.h: same names, argument order and meaning,
// device pointers. Shape legend and formulas: kernels/cpu/conv2d.h.
//
// conv2d_forward / conv2d_backward pick the path for the shape exactly as the CPU:
//   pointwise 1x1, stride 1, pad 0, G = 1  -> pointwise_conv2d.h: GEMMs on NCHW
//   depthwise 3x3, G = C_in = C_out        -> depthwise_conv2d.h: direct kernels
//   anything else                          -> implicit GEMM, here
// The implicit-GEMM path (the GPU's counterpart of the CPU's im2col + GEMM) runs
// the tile GEMM of gemm_tile.cuh on virtual im2col matrices that are gathered
// from x (or dy) while the tiles are loaded, so no column buffer is written:
//   forward  Y[g] [Og x N*P]      = W[g] [Og x CKK]   col[g] [CKK x N*P]
//   dx       dX[g] [Cg x N*H*W]   = W[g]^T [Cg x Og*KK] gathered dy [Og*KK x N*H*W]
//   dweight  dW[g] [Og x CKK]     = dY[g] [Og x N*P] col[g]^T [N*P x CKK]
// with the batch folded into the GEMM's columns (small late-layer maps still
// fill whole tiles) and the groups as the GEMM batch. The weight gradient sums
// over N*P with split-K partials added in a fixed order. Every result is
// bit-identical run to run.
#pragma once

#include "kernels/common/shapes.h"

namespace cxr::cuda {

template <class T>
void conv2d_forward(T* y, const T* x, const T* weight, const T* bias, const Conv2dShape& s, bool relu = false);

// Overwrites dx, dweight and dbias; a null output is skipped (then x is unused
// without dweight, weight without dx).
template <class T>
void conv2d_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight, const Conv2dShape& s);

// The implicit-GEMM path for any shape (the dispatcher's general case).
template <class T>
void conv2d_implicit_gemm_forward(T* y, const T* x, const T* weight, const T* bias, const Conv2dShape& s,
                                  bool relu = false);
template <class T>
void conv2d_implicit_gemm_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight,
                                   const Conv2dShape& s);

// dbias[c] = sum over n and pixels of dy[n, c, :], in double, in a fixed order.
template <class T>
void conv2d_bias_backward(T* dbias, const T* dy, const Conv2dShape& s);

}  // namespace cxr::cuda
