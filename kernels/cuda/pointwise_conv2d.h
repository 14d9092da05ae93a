// Pointwise (1x1, stride 1, no padding, one group) convolution on the GPU as GEMMs
// on the NCHW layout, the CUDA counterpart of kernels/cpu/pointwise_conv2d.h:
//
//   Y[:, n]  = W X[n] (+ b)        [C_out x N*HW] = [C_out x C_in] [C_in x N*HW]
//   dX[:, n] = W^T dY[n]           [C_in x N*HW]  = [C_in x C_out] [C_out x N*HW]
//   dW       = sum_n dY[n] X[n]^T  [C_out x C_in], K = N*HW
//
// Shape legend: N batch, C_in / C_out channels, HW = H*W pixels. The images are
// not copied: the GEMM's column j = (n, pixel) reads channel k of image n at
// x[n, k, pixel] (a float4 when 4 pixels of one image are aligned), so the batch
// is folded into the columns and one launch covers it; the weight gradient is one
// GEMM whose K runs over every (n, pixel), split across blocks with partials
// added in order (gemm_tile.cuh). Bias and ReLU are applied in registers.
#pragma once

#include "kernels/common/shapes.h"

namespace cxr::cuda {

template <class T>
void pointwise_conv2d_forward(T* y, const T* x, const T* weight, const T* bias, const Conv2dShape& s,
                              bool relu = false);

// Same contract as conv2d_backward.
template <class T>
void pointwise_conv2d_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight,
                               const Conv2dShape& s);

}  // namespace cxr::cuda
