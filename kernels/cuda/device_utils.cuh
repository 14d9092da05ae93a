// Small device helpers shared by the GEMM, convolution and batch-norm kernels (.cu only):
// the SM count that sizes grids, 16-byte vector loads and stores, and a block
// reduction of doubles in a fixed order. Scratch memory is cuda::DeviceArray
// (runtime.h): the caching allocator, stream-ordered like everything else.
//
// Determinism: every reduction here combines values in an order fixed by the
// thread and block indices alone (a shuffle tree inside each warp, then warps in
// index order), never by arrival time, so results are bit-identical run to run.
#pragma once

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/runtime.h"

#include <atomic>
#include <cstdint>

namespace cxr::cuda {

// Streaming multiprocessors of the current device (132 on an H100 SXM), cached
// per device: grid sizes and split-K factors are chosen from it.
inline int sm_count() {
  constexpr int kMaxDevices = 64;
  static std::atomic<int> cache[kMaxDevices];  // zero-initialised: not yet asked
  int device = 0;
  CXR_CUDA_CHECK(cudaGetDevice(&device));
  if (device >= kMaxDevices) {
    int n = 0;
    CXR_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device));
    return n;
  }
  int n = cache[device].load(std::memory_order_relaxed);
  if (n == 0) {
    CXR_CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device));
    cache[device].store(n, std::memory_order_relaxed);
  }
  return n;
}

// Compute capability major version of the current device (8 = Ampere, 9 = Hopper).
inline int compute_capability_major() {
  int device = 0, major = 0;
  CXR_CUDA_CHECK(cudaGetDevice(&device));
  CXR_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  return major;
}

// ---- vector memory access ----------------------------------------------------------------

template <int V, class T>
__device__ __forceinline__ bool is_aligned(const T* p) {
  return reinterpret_cast<std::uintptr_t>(p) % (V * sizeof(T)) == 0;
}

// v[0..V) = p[0..V) through the read-only path; p aligned to V * sizeof(T), and
// V * sizeof(T) a multiple of 8 bytes (float2, float4, double2 or two double2).
template <class T, int V>
__device__ __forceinline__ void load_vec(T (&v)[V], const T* p) {
  if constexpr (sizeof(T) == 4 && V == 4) {
    const float4 q = __ldg(reinterpret_cast<const float4*>(p));
    v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
  } else if constexpr (sizeof(T) == 4 && V == 2) {
    const float2 q = __ldg(reinterpret_cast<const float2*>(p));
    v[0] = q.x, v[1] = q.y;
  } else {
    static_assert(sizeof(T) == 8 && V % 2 == 0, "16-byte vectors of double only");
#pragma unroll
    for (int i = 0; i < V; i += 2) {
      const double2 q = __ldg(reinterpret_cast<const double2*>(p + i));
      v[i] = q.x, v[i + 1] = q.y;
    }
  }
}

// Plain (coherent) load, for data the same kernel may have written: C read for beta != 0.
template <class T, int V>
__device__ __forceinline__ void load_vec_coherent(T (&v)[V], const T* p) {
  if constexpr (sizeof(T) == 4 && V == 4) {
    const float4 q = *reinterpret_cast<const float4*>(p);
    v[0] = q.x, v[1] = q.y, v[2] = q.z, v[3] = q.w;
  } else if constexpr (sizeof(T) == 4 && V == 2) {
    const float2 q = *reinterpret_cast<const float2*>(p);
    v[0] = q.x, v[1] = q.y;
  } else {
    static_assert(sizeof(T) == 8 && V % 2 == 0, "16-byte vectors of double only");
#pragma unroll
    for (int i = 0; i < V; i += 2) {
      const double2 q = *reinterpret_cast<const double2*>(p + i);
      v[i] = q.x, v[i + 1] = q.y;
    }
  }
}

template <class T, int V>
__device__ __forceinline__ void store_vec(T* p, const T (&v)[V]) {
  if constexpr (sizeof(T) == 4 && V == 4) {
    *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]);
  } else if constexpr (sizeof(T) == 4 && V == 2) {
    *reinterpret_cast<float2*>(p) = make_float2(v[0], v[1]);
  } else {
    static_assert(sizeof(T) == 8 && V % 2 == 0, "16-byte vectors of double only");
#pragma unroll
    for (int i = 0; i < V; i += 2) *reinterpret_cast<double2*>(p + i) = make_double2(v[i], v[i + 1]);
  }
}

// ---- fixed-order reductions ---------------------------------------------------------------

// Sums v over the block (blockDim.x a multiple of 32, at most 1024); thread 0 gets
// the totals. scratch holds 32 * V doubles. Every thread must call it (it
// synchronises); the caller synchronises again before reusing scratch.
template <int V>
__device__ __forceinline__ void block_sum(double (&v)[V], double* scratch) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
#pragma unroll
  for (int i = 0; i < V; ++i)
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) v[i] += __shfl_down_sync(0xffffffffu, v[i], offset);
  if (lane == 0)
#pragma unroll
    for (int i = 0; i < V; ++i) scratch[warp * V + i] = v[i];
  __syncthreads();
  if (threadIdx.x == 0)
#pragma unroll
    for (int i = 0; i < V; ++i) {
      double total = 0;
      for (int w = 0; w < warps; ++w) total += scratch[w * V + i];
      v[i] = total;
    }
}

}  // namespace cxr::cuda
