// Copies of channel blocks between NCHW arrays: the kernel of channel concatenation
// and of its inverse, the channel slice (the U-Net's skip connections).
// Shape legend: N images, HW pixels per map; dst has dst_C channels, src has src_C.
#pragma once

#include <cstdint>

namespace cxr::cpu {

// dst[n, dst_c0 + c, :] = src[n, src_c0 + c, :] for n < N, c < C (each a run of HW
// contiguous values). Other channels of dst are left as they are.
template <class T>
void copy_channels(T* dst, std::int64_t dst_C, std::int64_t dst_c0, const T* src, std::int64_t src_C,
                   std::int64_t src_c0, std::int64_t C, std::int64_t N, std::int64_t HW);

}  // namespace cxr::cpu
