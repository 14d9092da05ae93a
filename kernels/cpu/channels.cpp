#include "kernels/cpu/channels.h"

#include "base/parallel.h"

#include <algorithm>

namespace cxr::cpu {

template <class T>
void copy_channels(T* dst, std::int64_t dst_C, std::int64_t dst_c0, const T* src, std::int64_t src_C,
                   std::int64_t src_c0, std::int64_t C, std::int64_t N, std::int64_t HW) {
  // One task per (image, channel) map: each is a contiguous run of HW values.
  const std::int64_t grain = std::max<std::int64_t>(1, (1 << 14) / std::max<std::int64_t>(HW, 1));
  parallel_for(0, N * C, grain, [&](std::int64_t m0, std::int64_t m1) {
    for (std::int64_t m = m0; m < m1; ++m) {
      const std::int64_t n = m / C, c = m % C;
      std::copy_n(src + (n * src_C + src_c0 + c) * HW, HW, dst + (n * dst_C + dst_c0 + c) * HW);
    }
  });
}

template void copy_channels<float>(float*, std::int64_t, std::int64_t, const float*, std::int64_t, std::int64_t,
                                   std::int64_t, std::int64_t, std::int64_t);
template void copy_channels<double>(double*, std::int64_t, std::int64_t, const double*, std::int64_t, std::int64_t,
                                    std::int64_t, std::int64_t, std::int64_t);

}  // namespace cxr::cpu
