// Grid sizing for the one-thread-per-element kernels (.cu only). Such kernels loop
// `for (i = first_index(); i < n; i += grid_stride())` with 64-bit indices, so one
// launch covers any n while the grid stays within limits; kMaxBlocks blocks of 256
// threads keep every SM of the largest GPUs busy.
#pragma once

#include "kernels/cuda/check.cuh"

#include <algorithm>
#include <cstdint>

namespace cxr::cuda {

constexpr int kElementThreads = 256;
constexpr std::int64_t kMaxBlocks = 65536;

inline unsigned int grid_stride_blocks(std::int64_t n, int threads = kElementThreads) {
  return static_cast<unsigned int>(std::clamp<std::int64_t>((n + threads - 1) / threads, 1, kMaxBlocks));
}

__device__ __forceinline__ std::int64_t first_index() {
  return static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ __forceinline__ std::int64_t grid_stride() {
  return static_cast<std::int64_t>(gridDim.x) * blockDim.x;
}

}  // namespace cxr::cuda
