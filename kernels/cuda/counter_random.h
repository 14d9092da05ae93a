// The counter-based hash behind dropout masks, shared by the CPU and the GPU so both
// draw bit-identical masks: plain C++ (a host function for C++20 code), and a
// __host__ __device__ one when nvcc compiles it. Integer arithmetic, then one exact
// conversion (53 bits to double) and one multiplication by a power of two, so the
// result is the same on every IEEE machine.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define CXR_HOST_DEVICE __host__ __device__
#else
#define CXR_HOST_DEVICE
#endif

namespace cxr {

// SplitMix64 finaliser: a bijective 64-bit mix (Steele, Lea, Flood 2014).
CXR_HOST_DEVICE constexpr std::uint64_t mix64(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A uniform double in [0, 1) from the counter `index` of stream `key`.
CXR_HOST_DEVICE inline double uniform_at(std::uint64_t key, std::uint64_t index) {
  return static_cast<double>(mix64(key ^ mix64(index)) >> 11) * 0x1.0p-53;
}

}  // namespace cxr
