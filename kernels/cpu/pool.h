// 2-D pooling of NCHW maps: max, average and global average.
//
// Shape legend: N batch, C channels, H x W input map, OH x OW output map, k kernel,
// s stride, p padding, with OH = (H + 2p - k) / s + 1 (floor) and likewise OW.
// Output (oh, ow) pools the window rows oh*s - p .. oh*s - p + k - 1 (columns alike).
// Max pooling treats padding as -inf and remembers, per output, the index h*W + w
// of the maximum inside its map: the first one in row-major window order wins ties
// and a NaN wins over numbers, as in PyTorch; the backward routes each gradient
// there. Average pooling counts padding as zeros (divisor k*k, PyTorch's
// count_include_pad=True). Work is split over the N*C maps; each map's gradient is
// written by one thread, in a fixed order.
// Convention (as in llm.c): outputs first, then inputs; d-prefixed names are gradients.
#pragma once

#include "kernels/common/shapes.h"  // Pool2dShape

#include <cstdint>

namespace cxr::cpu {

template <class T>
void max_pool2d_forward(T* out, std::int32_t* argmax, const T* x, const Pool2dShape& s);
template <class T>
void max_pool2d_backward(T* dx, const T* dout, const std::int32_t* argmax, const Pool2dShape& s);

template <class T>
void avg_pool2d_forward(T* out, const T* x, const Pool2dShape& s);
template <class T>
void avg_pool2d_backward(T* dx, const T* dout, const Pool2dShape& s);

// out[m] = mean of the HW values of map m, for m in [0, maps); summed in double.
template <class T>
void global_avg_pool2d_forward(T* out, const T* x, std::int64_t maps, std::int64_t HW);
template <class T>
void global_avg_pool2d_backward(T* dx, const T* dout, std::int64_t maps, std::int64_t HW);

}  // namespace cxr::cpu
