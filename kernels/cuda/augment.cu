// Augmentation (affine warp, brightness/contrast jitter, normalisation) and plain
// normalisation of uint8 images, over a batch (rules: engine/data/augment.h).
//
// Shape legend: B images, S x S pixels each.
// Decomposition: one thread per output pixel (grid-stride over B*S*S, 64-bit
// indices). Each image's constants (the inverse map, gain and bias) are formed on
// the host as engine/data/augment.cpp forms them and copied to the device once per
// call; each thread forms its row's start point in double and its column's source
// point with one fma, as the CPU does, then samples bilinearly with black outside
// the image, with the CPU's scalar formulas. The CPU's AVX2 loop and the compilers
// fuse different products into FMAs, so the two agree to rounding (a few ulps of the
// 0..255 intensity).
#include "kernels/cuda/augment.h"

#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/runtime.h"

#include <cmath>
#include <vector>

namespace cxr::cuda {

namespace {

// One image's inverse map s = c + (ax, ay) u + (bx, by) v with u, v the output pixel
// minus the centre and the shift, and its jitter: v * gain + bias, clamped to [0, 1].
struct ImageConstants {
  double c, ax, bx, ay, by, tx, ty;
  float fax, fay, gain, bias;
};

__device__ __forceinline__ float sample(const std::uint8_t* in, int size, float sx, float sy) {
  const float fx0 = floorf(sx), fy0 = floorf(sy);
  const int x0 = static_cast<int>(fx0), y0 = static_cast<int>(fy0), last = size - 1;
  auto at = [&](int x, int y) -> float {
    return x >= 0 && y >= 0 && x <= last && y <= last ? static_cast<float>(in[static_cast<std::int64_t>(y) * size + x])
                                                      : 0.0f;
  };
  const float wx = sx - fx0, wy = sy - fy0;
  const float top = at(x0, y0) + wx * (at(x0 + 1, y0) - at(x0, y0));
  const float bottom = at(x0, y0 + 1) + wx * (at(x0 + 1, y0 + 1) - at(x0, y0 + 1));
  return top + wy * (bottom - top);
}

__global__ void augment_kernel(float* out, const std::uint8_t* in, const ImageConstants* constants, int batch,
                               int size, float inv_std, float shift) {
  const std::int64_t pixels = static_cast<std::int64_t>(size) * size, total = batch * pixels;
  for (std::int64_t i = first_index(); i < total; i += grid_stride()) {
    const std::int64_t b = i / pixels;
    const int y = static_cast<int>(i % pixels / size), x = static_cast<int>(i % size);
    const ImageConstants k = constants[b];
    const double u0 = -k.c - k.tx, v0 = y - k.c - k.ty;
    const float sx0 = static_cast<float>(k.c + k.ax * u0 + k.bx * v0);
    const float sy0 = static_cast<float>(k.c + k.ay * u0 + k.by * v0);
    const float sx = fmaf(k.fax, static_cast<float>(x), sx0), sy = fmaf(k.fay, static_cast<float>(x), sy0);
    const float value = sample(in + b * pixels, size, sx, sy);
    const float v = value * k.gain + k.bias;
    const float jittered = v < 0.0f ? 0.0f : (1.0f < v ? 1.0f : v);  // std::clamp's comparisons
    out[i] = jittered * inv_std + shift;
  }
}

__global__ void normalize_kernel(float* out, const std::uint8_t* in, std::int64_t n, float scale, float shift) {
  for (std::int64_t i = first_index(); i < n; i += grid_stride()) out[i] = static_cast<float>(in[i]) * scale + shift;
}

}  // namespace

void augment_images(float* out, const std::uint8_t* in, int batch, int size, const AugmentImageParams* params,
                    float mean, float stddev) {
  if (batch <= 0 || size <= 0) return;
  std::vector<ImageConstants> constants(static_cast<std::size_t>(batch));
  for (int b = 0; b < batch; ++b) {
    const AugmentImageParams& p = params[b];
    ImageConstants& k = constants[b];
    k.c = (size - 1) * 0.5;
    const double cs = std::cos(p.angle) / p.scale, sn = std::sin(p.angle) / p.scale;
    const double mirror = p.flip ? -1.0 : 1.0;
    k.ax = mirror * cs, k.bx = mirror * sn;
    k.ay = -sn, k.by = cs;
    k.tx = p.tx, k.ty = p.ty;
    k.fax = static_cast<float>(k.ax), k.fay = static_cast<float>(k.ay);
    k.gain = static_cast<float>(p.contrast / 255.0);
    k.bias = static_cast<float>(0.5 - 0.5 * p.contrast + p.brightness);
  }
  DeviceArray<ImageConstants> device_constants(constants.data(), batch);
  const float inv_std = 1.0f / stddev, shift = -mean / stddev;
  const std::int64_t total = static_cast<std::int64_t>(batch) * size * size;
  augment_kernel<<<grid_stride_blocks(total), kElementThreads, 0, stream()>>>(out, in, device_constants.get(), batch,
                                                                              size, inv_std, shift);
  CXR_CUDA_LAUNCH_CHECK();
}

void normalize_images(float* out, const std::uint8_t* in, std::int64_t n, float mean, float stddev) {
  if (n <= 0) return;
  const float scale = 1.0f / (255.0f * stddev), shift = -mean / stddev;  // as the CPU
  normalize_kernel<<<grid_stride_blocks(n), kElementThreads, 0, stream()>>>(out, in, n, scale, shift);
  CXR_CUDA_LAUNCH_CHECK();
}

}  // namespace cxr::cuda
