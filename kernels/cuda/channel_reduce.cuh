// Per-channel sums over NCHW tensors, deterministic (.cu only): the first pass of
// the convolution bias gradient and of batch norm's statistics and gradients.
//
// Shape legend: N batch, C channels, HW pixels per map; channel c owns the N maps
// t[n, c, :], M = N*HW values.
//
// Decomposition: block (c, j) sums chunk j of channel c's M values, i.e. the flat
// range [j*M/chunks, (j+1)*M/chunks) of (n, pixel) in that order, walking it map by
// map so each thread strides over contiguous pixels (coalesced loads, no division
// per element). Every thread accumulates V doubles; the block combines them with
// block_sum (fixed order) and writes partials[(c*chunks + j)*V + v]. A second,
// per-channel pass adds the chunks in index order, so the result does not depend
// on scheduling. chunks is chosen so that C*chunks blocks fill the GPU even when C
// is small (the stem has 32 channels), and each chunk keeps at least 2048 values.
//
// F provides  state = f.begin(c)  (per-channel constants, e.g. the mean) and
// f.add(state, index, acc) which adds element `index` (flat NCHW index) into acc[V].
#pragma once

#include "kernels/cuda/device_utils.cuh"

#include <algorithm>
#include <cstdint>

namespace cxr::cuda {

constexpr int kChannelReduceThreads = 256;

// Chunks per channel for C channels of M values each.
inline int channel_chunks(std::int64_t C, std::int64_t M) {
  const std::int64_t target_blocks = 8 * static_cast<std::int64_t>(sm_count());  // 8 resident 256-thread blocks per SM
  const std::int64_t by_occupancy = (target_blocks + C - 1) / C;
  const std::int64_t by_size = std::max<std::int64_t>(1, M / 2048);
  return static_cast<int>(std::clamp<std::int64_t>(std::min(by_occupancy, by_size), 1, 1024));
}

template <int V, class F>
__global__ void __launch_bounds__(kChannelReduceThreads)
    channel_partials_kernel(double* partials, F f, std::int64_t N, std::int64_t C, std::int64_t HW, int chunks) {
  __shared__ double scratch[32 * V];
  const std::int64_t c = blockIdx.x / chunks;
  const int j = static_cast<int>(blockIdx.x % chunks);
  const std::int64_t M = N * HW;
  const std::int64_t i0 = M * j / chunks, i1 = M * (j + 1) / chunks;
  const auto state = f.begin(c);
  double acc[V] = {};
  for (std::int64_t n = HW > 0 ? i0 / HW : 0; n * HW < i1; ++n) {  // M == 0: no iteration
    const std::int64_t lo = i0 > n * HW ? i0 - n * HW : 0;
    const std::int64_t hi = i1 - n * HW < HW ? i1 - n * HW : HW;
    const std::int64_t base = (n * C + c) * HW;
#pragma unroll 4
    for (std::int64_t p = lo + threadIdx.x; p < hi; p += blockDim.x) f.add(state, base + p, acc);
  }
  block_sum(acc, scratch);
  if (threadIdx.x == 0)
#pragma unroll
    for (int v = 0; v < V; ++v) partials[(c * chunks + j) * V + v] = acc[v];
}

// Launches the first pass; partials must hold C * chunks * V doubles.
template <int V, class F>
void launch_channel_partials(double* partials, const F& f, std::int64_t N, std::int64_t C, std::int64_t HW,
                             int chunks) {
  if (C == 0) return;
  CXR_CHECK(C * chunks < (std::int64_t{1} << 31), "channel reduction: {} channels x {} chunks is too many blocks", C,
            chunks);
  channel_partials_kernel<V>
      <<<static_cast<unsigned>(C * chunks), kChannelReduceThreads, 0, stream()>>>(partials, f, N, C, HW, chunks);
  CXR_CUDA_LAUNCH_CHECK();
}

// Sum of channel c's chunks, value v, in chunk order (the second pass).
template <int V>
__device__ __forceinline__ double channel_total(const double* partials, std::int64_t c, int chunks, int v) {
  double total = 0;
  for (int j = 0; j < chunks; ++j) total += partials[(c * chunks + j) * V + v];
  return total;
}

}  // namespace cxr::cuda
