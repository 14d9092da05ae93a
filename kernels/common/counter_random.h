// The counter-based hash behind dropout masks, shared by the CPU and the GPU so both
// draw bit-identical masks: plain C++ (a host function for C++20 code), and a
// __host__ __device__ one when nvcc compiles it. Integer arithmetic, then one exact
// conversion (53 bits to double) and one multiplication by a power of two, so the
// result is the same on every IEEE machine. The augmentation noise takes normals
// from the same hash; their logf, sqrtf, cosf and sinf make the CPU's and the GPU's
// values agree to a few float ulps instead of bit for bit.
#pragma once

#include <cmath>
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

// Two independent standard normals from the counter `index` of stream `key`, by
// Box-Muller in float; the high and low 32 bits of one hash are its two uniforms.
CXR_HOST_DEVICE inline void normal_pair_at(std::uint64_t key, std::uint64_t index, float& z0, float& z1) {
  const std::uint64_t h = mix64(key ^ mix64(index));
  const float u1 = static_cast<float>((h >> 32) + 1) * 0x1.0p-32f;  // (0, 1]: log(u1) is finite
  const float u2 = static_cast<float>(h & 0xffffffffu) * 0x1.0p-32f;
  const float r = sqrtf(-2.0f * logf(u1)), angle = 6.28318530718f * u2;
  z0 = r * cosf(angle);
  z1 = r * sinf(angle);
}

}  // namespace cxr
