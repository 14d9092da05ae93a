// 2-D pooling of NCHW maps on the GPU: the CUDA side of kernels/cpu/pool.h, same
// names, arguments and meaning (Pool2dShape from kernels/common/shapes.h); pointers are device
// pointers, argmax included.
#pragma once

#include "kernels/common/shapes.h"

#include <cstdint>

namespace cxr::cuda {

template <class T>
void max_pool2d_forward(T* out, std::int32_t* argmax, const T* x, const Pool2dShape& s);
template <class T>
void max_pool2d_backward(T* dx, const T* dout, const std::int32_t* argmax, const Pool2dShape& s);

template <class T>
void avg_pool2d_forward(T* out, const T* x, const Pool2dShape& s);
template <class T>
void avg_pool2d_backward(T* dx, const T* dout, const Pool2dShape& s);

template <class T>
void global_avg_pool2d_forward(T* out, const T* x, std::int64_t maps, std::int64_t HW);
template <class T>
void global_avg_pool2d_backward(T* dx, const T* dout, std::int64_t maps, std::int64_t HW);

}  // namespace cxr::cuda
