// Channel-block copy (concatenation and slicing along C).
//
// Shape legend: N images, C channels copied, HW pixels per map.
// Decomposition: one thread per copied element, index i over [0, N*C*HW) split into
// (n, c, p); consecutive threads copy consecutive pixels of one map, so reads and
// writes are coalesced. A plain copy: results equal the CPU's bit for bit.
#include "kernels/cuda/channels.h"

#include "kernels/cuda/launch.cuh"

namespace cxr::cuda {

namespace {

template <class T>
__global__ void copy_channels_kernel(T* dst, std::int64_t dst_C, std::int64_t dst_c0, const T* src, std::int64_t src_C,
                                     std::int64_t src_c0, std::int64_t C, std::int64_t HW, std::int64_t total) {
  for (std::int64_t i = first_index(); i < total; i += grid_stride()) {
    const std::int64_t p = i % HW, map = i / HW;
    const std::int64_t c = map % C, n = map / C;
    dst[(n * dst_C + dst_c0 + c) * HW + p] = src[(n * src_C + src_c0 + c) * HW + p];
  }
}

}  // namespace

template <class T>
void copy_channels(T* dst, std::int64_t dst_C, std::int64_t dst_c0, const T* src, std::int64_t src_C,
                   std::int64_t src_c0, std::int64_t C, std::int64_t N, std::int64_t HW) {
  const std::int64_t total = N * C * HW;
  if (total <= 0) return;
  copy_channels_kernel<<<grid_stride_blocks(total), kElementThreads, 0, stream()>>>(dst, dst_C, dst_c0, src, src_C,
                                                                                    src_c0, C, HW, total);
  CXR_CUDA_LAUNCH_CHECK();
}

template void copy_channels<float>(float*, std::int64_t, std::int64_t, const float*, std::int64_t, std::int64_t,
                                   std::int64_t, std::int64_t, std::int64_t);
template void copy_channels<double>(double*, std::int64_t, std::int64_t, const double*, std::int64_t, std::int64_t,
                                    std::int64_t, std::int64_t, std::int64_t);

}  // namespace cxr::cuda
