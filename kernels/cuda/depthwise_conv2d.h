// Depthwise 3x3 convolution on the GPU (groups == C_in == C_out), the CUDA
// counterpart of kernels/cpu/depthwise_conv2d.h (formulas there), any stride and
// padding. Shape legend: N batch, C channels, H x W input, H_out x W_out output,
// s stride, p padding; plane (n, c) is filtered by w[c].
//
// Forward: one block of 32 x 8 threads per 32 x 32 tile of an output plane; the
//   block stages the tile's input window with its halo ((31 s + 3)^2 values, zero
//   outside the image) in shared memory with coalesced row loads, then each
//   thread computes 4 outputs of one column, reading each window row once for
//   all 4 (at s = 1: 6 rows, 18 shared reads instead of 36); warps write 32
//   consecutive outputs. At s = 2 the window's even and odd columns are stored
//   apart, so the 32 threads of a warp read 32 consecutive words: no bank
//   conflicts (shared memory: 4.6 KB at s = 1, 17 KB at s = 2 in float32). Maps
//   narrower than 24 columns (the late layers) or strides above 2 use one thread
//   per output reading its taps through L1 instead, as tiles would sit mostly idle.
// Input gradient: at stride 1 it is the forward kernel run on dy with the kernel
//   flipped and padding 2 - p; at other strides one thread per input pixel
//   gathers the <= 9 outputs that read it (no scatter, no atomics).
// Weight gradient: block (c, chunk) sums dy * x over a chunk of channel c's
//   (image, 8-row segment, column) units; a thread walks its column down the 8
//   rows keeping the 3 x 3 input window in registers (each step loads only the s
//   new rows), accumulating the 9 taps in double. Blocks reduce in a fixed order
//   and a second pass adds the chunks in order: bit-identical run to run.
#pragma once

#include "kernels/common/shapes.h"

namespace cxr::cuda {

template <class T>
void depthwise_conv2d_forward(T* y, const T* x, const T* weight, const T* bias, const Conv2dShape& s,
                              bool relu = false);

// Same contract as conv2d_backward.
template <class T>
void depthwise_conv2d_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight,
                               const Conv2dShape& s);

}  // namespace cxr::cuda
