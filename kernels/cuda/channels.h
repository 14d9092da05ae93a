// Copies of channel blocks between NCHW device arrays: the GPU side of
// kernels/cpu/channels.h, same name, arguments and meaning.
#pragma once

#include <cstdint>

namespace cxr::cuda {

template <class T>
void copy_channels(T* dst, std::int64_t dst_C, std::int64_t dst_c0, const T* src, std::int64_t src_C,
                   std::int64_t src_c0, std::int64_t C, std::int64_t N, std::int64_t HW);

}  // namespace cxr::cuda
