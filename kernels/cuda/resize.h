// Bilinear resize of NCHW maps on the GPU, half-pixel centres: the CUDA side of
// kernels/cpu/resize.h, same names, arguments and meaning; device pointers.
#pragma once

#include <cstdint>

namespace cxr::cuda {

template <class T>
void resize_bilinear_forward(T* out, const T* x, std::int64_t maps, std::int64_t H, std::int64_t W, std::int64_t OH,
                             std::int64_t OW);
template <class T>
void resize_bilinear_backward(T* dx, const T* dout, std::int64_t maps, std::int64_t H, std::int64_t W, std::int64_t OH,
                              std::int64_t OW);

}  // namespace cxr::cuda
