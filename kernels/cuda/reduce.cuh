// Deterministic sums over n values on the GPU (.cu only): the sum of the elementwise
// family and the squared norm of gradient clipping.
//
// Decomposition: the n values are cut into fixed chunks of kReduceChunk; block b sums
// chunk b, each of its threads striding over the chunk (coalesced), in double; the
// block combines its threads with a shuffle tree per warp and then the warps in
// index order. One block of the second pass adds the per-chunk partials the same
// way. Every order depends on n alone, never on scheduling, so the sum is
// bit-identical run to run (no atomics).
#pragma once

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/runtime.h"

#include <cstdint>

namespace cxr::cuda {

constexpr int kReduceThreads = 256;
constexpr std::int64_t kReduceChunk = 8192;

// Sum of v over the block (blockDim.x a multiple of 32, at most 1024), returned in
// thread 0. scratch holds 32 doubles. Every thread of the block must call it.
__device__ __forceinline__ double block_reduce_sum(double v, double* scratch) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  double total = 0;
  if (threadIdx.x == 0)
    for (int w = 0; w < warps; ++w) total += scratch[w];
  return total;
}

// partials[b] = sum of f(i) over chunk b. F: struct with `__device__ double operator()(std::int64_t i) const`.
template <class F>
__global__ void __launch_bounds__(kReduceThreads) chunk_sums_kernel(double* partials, F f, std::int64_t n) {
  __shared__ double scratch[32];
  const std::int64_t begin = static_cast<std::int64_t>(blockIdx.x) * kReduceChunk;
  const std::int64_t end = begin + kReduceChunk < n ? begin + kReduceChunk : n;
  double acc = 0;
  for (std::int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) acc += f(i);
  const double total = block_reduce_sum(acc, scratch);
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

// *out = sum of partials[0..count), one block of Threads threads.
template <int Threads>
__global__ void __launch_bounds__(Threads) total_sum_kernel(double* out, const double* partials, std::int64_t count) {
  __shared__ double scratch[32];
  double acc = 0;
  for (std::int64_t i = threadIdx.x; i < count; i += Threads) acc += partials[i];
  const double total = block_reduce_sum(acc, scratch);
  if (threadIdx.x == 0) *out = total;
}

// The sum of f(i) for i in [0, n), in double; waits for the stream (the host gets it).
template <class F>
double reduce_sum(const F& f, std::int64_t n) {
  if (n <= 0) return 0.0;
  const std::int64_t chunks = (n + kReduceChunk - 1) / kReduceChunk;
  CXR_CHECK(chunks < (std::int64_t{1} << 31), "reduce_sum: {} values are too many", n);
  DeviceArray<double> partials(chunks + 1);  // the last slot takes the total
  chunk_sums_kernel<<<static_cast<unsigned>(chunks), kReduceThreads, 0, stream()>>>(partials.get(), f, n);
  CXR_CUDA_LAUNCH_CHECK();
  total_sum_kernel<1024><<<1, 1024, 0, stream()>>>(partials.get() + chunks, partials.get(), chunks);
  CXR_CUDA_LAUNCH_CHECK();
  double total = 0;
  copy_bytes(&total, false, partials.get() + chunks, true, sizeof(double));
  return total;
}

}  // namespace cxr::cuda
