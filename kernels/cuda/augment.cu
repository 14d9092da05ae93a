// Augmentation (affine warp, blur, gamma, brightness/contrast jitter, noise, border
// bands, normalisation) and plain normalisation of uint8 images, over a batch
// (rules: engine/data/augment.h).
//
// Shape legend: B images, S x S pixels each.
// Decomposition: one thread per output pixel (grid-stride over B*S*S, 64-bit
// indices) in each of up to three kernels:
//   augment_kernel: the warp. Each image's constants (the inverse map, gain and
//     bias) are formed on the host as kernels/cpu/augment.cpp forms them and copied
//     to the device once per call; each thread forms its row's start point in double
//     and its column's source point with one fma, as the CPU does, then samples
//     bilinearly with black outside the image, with the CPU's scalar formulas. An
//     image with no photometric stage gets its jitter and normalisation fused in (the
//     CPU's one-pass path); the others come out as intensity in [0, 1].
//   blur_rows_kernel: the rows of the Gaussian blur, clamp-to-edge, into a scratch
//     batch (images with a blur only).
//   photometric_kernel: the columns of the blur, then gamma, jitter, noise, clamp,
//     border bands and normalisation (images with any photometric stage only).
// The blur's taps are formed on the host as the CPU forms them and each output adds
// them from -r to r, as the CPU does; the noise is the CPU's counter-based
// normal_pair_at of (image key, pixel index).
// The CPU's AVX2 loop and the compilers fuse different products into FMAs, and
// powf, logf, cosf and sinf differ from glibc's by a few ulps, so the two agree to
// rounding (tests/test_cuda_augment.cpp derives the tolerances).
#include "kernels/cuda/augment.h"

#include "kernels/common/counter_random.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/runtime.h"

#include <cmath>
#include <vector>

namespace cxr::cuda {

namespace {

// One image's inverse map s = c + (ax, ay) u + (bx, by) v with u, v the output pixel
// minus the centre and the shift, and what happens to the sampled value v:
// clamp(v * gain + bias, 0, 1) * inv_std + shift. With `photometric`, that is only
// v / 255, and the photometric kernel does the rest: blur with the taps from
// `first_tap` (radius 0: none), gamma, (v - 0.5) * contrast + 0.5 + brightness =
// v * contrast + jitter_bias, noise, clamp, the border bands, normalisation.
struct ImageConstants {
  double c, ax, bx, ay, by, tx, ty;
  float fax, fay, gain, bias, inv_std, shift;
  bool photometric;
  int radius, first_tap;
  float gamma, contrast, jitter_bias, noise_std;
  std::uint64_t noise_key;
  int left, right, top, bottom;
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

__device__ __forceinline__ float clamp01(float v) {
  return v < 0.0f ? 0.0f : (1.0f < v ? 1.0f : v);
}  // std::clamp's comparisons

__device__ __forceinline__ int clamp_index(int i, int size) {
  return i < 0 ? 0 : (i > size - 1 ? size - 1 : i);
}

__global__ void augment_kernel(float* out, const std::uint8_t* in, const ImageConstants* constants, int batch,
                               int size) {
  const std::int64_t pixels = static_cast<std::int64_t>(size) * size, total = batch * pixels;
  for (std::int64_t i = first_index(); i < total; i += grid_stride()) {
    const std::int64_t b = i / pixels;
    const int y = static_cast<int>(i % pixels / size), x = static_cast<int>(i % size);
    const ImageConstants& k = constants[b];
    const double u0 = -k.c - k.tx, v0 = y - k.c - k.ty;
    const float sx0 = static_cast<float>(k.c + k.ax * u0 + k.bx * v0);
    const float sy0 = static_cast<float>(k.c + k.ay * u0 + k.by * v0);
    const float sx = fmaf(k.fax, static_cast<float>(x), sx0), sy = fmaf(k.fay, static_cast<float>(x), sy0);
    const float value = sample(in + b * pixels, size, sx, sy);
    out[i] = clamp01(value * k.gain + k.bias) * k.inv_std + k.shift;
  }
}

__global__ void blur_rows_kernel(float* rows, const float* image, const ImageConstants* constants, const float* taps,
                                 int batch, int size) {
  const std::int64_t pixels = static_cast<std::int64_t>(size) * size, total = batch * pixels;
  for (std::int64_t i = first_index(); i < total; i += grid_stride()) {
    const ImageConstants& k = constants[i / pixels];
    if (k.radius == 0) continue;
    const int x = static_cast<int>(i % size);
    const float* row = image + (i - x);
    const float* w = taps + k.first_tap + k.radius;  // w[t] for t in [-radius, radius]
    float acc = 0.0f;
    for (int t = -k.radius; t <= k.radius; ++t) acc += w[t] * row[clamp_index(x + t, size)];
    rows[i] = acc;
  }
}

__global__ void photometric_kernel(float* out, const float* rows, const ImageConstants* constants, const float* taps,
                                   int batch, int size, float inv_std, float shift) {
  const std::int64_t pixels = static_cast<std::int64_t>(size) * size, total = batch * pixels;
  for (std::int64_t i = first_index(); i < total; i += grid_stride()) {
    const std::int64_t b = i / pixels, p = i % pixels;
    const ImageConstants& k = constants[b];
    if (!k.photometric) continue;
    const int y = static_cast<int>(p / size), x = static_cast<int>(p % size);
    float v = out[i];
    if (k.radius > 0) {
      const float* column = rows + b * pixels + x;
      const float* w = taps + k.first_tap + k.radius;
      v = 0.0f;
      for (int t = -k.radius; t <= k.radius; ++t)
        v += w[t] * column[static_cast<std::int64_t>(clamp_index(y + t, size)) * size];
    }
    if (k.gamma != 1.0f) v = powf(v, k.gamma);
    v = v * k.contrast + k.jitter_bias;
    if (k.noise_std > 0.0f) {
      float z0, z1;
      normal_pair_at(k.noise_key, static_cast<std::uint64_t>(p / 2), z0, z1);
      v += k.noise_std * (p % 2 == 0 ? z0 : z1);
    }
    const bool band = x < k.left || x >= size - k.right || y < k.top || y >= size - k.bottom;
    out[i] = (band ? 0.0f : clamp01(v)) * inv_std + shift;
  }
}

__global__ void normalize_kernel(float* out, const std::uint8_t* in, std::int64_t n, float scale, float shift) {
  for (std::int64_t i = first_index(); i < n; i += grid_stride()) out[i] = static_cast<float>(in[i]) * scale + shift;
}

}  // namespace

void augment_images(float* out, const std::uint8_t* in, int batch, int size, const AugmentParams* params, float mean,
                    float stddev) {
  if (batch <= 0 || size <= 0) return;
  const float inv_std = 1.0f / stddev, shift = -mean / stddev;
  std::vector<ImageConstants> constants(static_cast<std::size_t>(batch));
  std::vector<float> taps;
  bool any_photometric = false;
  for (int b = 0; b < batch; ++b) {
    const AugmentParams& p = params[b];
    ImageConstants& k = constants[b];
    k.c = (size - 1) * 0.5;
    const double cs = std::cos(p.angle) / p.scale, sn = std::sin(p.angle) / p.scale;
    const double mirror = p.flip ? -1.0 : 1.0;
    k.ax = mirror * cs, k.bx = mirror * sn;
    k.ay = -sn, k.by = cs;
    k.tx = p.tx, k.ty = p.ty;
    k.fax = static_cast<float>(k.ax), k.fay = static_cast<float>(k.ay);
    const float gain = static_cast<float>(p.contrast / 255.0);
    const float bias = static_cast<float>(0.5 - 0.5 * p.contrast + p.brightness);
    k.photometric = p.blur_sigma > 0 || p.gamma != 1.0 || p.noise_std > 0 ||
                    p.border_left + p.border_right + p.border_top + p.border_bottom > 0;
    k.gain = k.photometric ? 1.0f / 255.0f : gain;
    k.bias = k.photometric ? 0.0f : bias;
    k.inv_std = k.photometric ? 1.0f : inv_std;
    k.shift = k.photometric ? 0.0f : shift;
    // The normalised Gaussian at -r..r, r = ceil(3 sigma), as augment.cpp forms it.
    k.radius = 0;
    k.first_tap = static_cast<int>(taps.size());
    if (p.blur_sigma > 0) {
      k.radius = static_cast<int>(std::ceil(3.0 * p.blur_sigma));
      std::vector<double> w(2 * k.radius + 1);
      double sum = 0.0;
      for (int t = -k.radius; t <= k.radius; ++t)
        sum += w[t + k.radius] = std::exp(-0.5 * t * t / (p.blur_sigma * p.blur_sigma));
      for (double v : w) taps.push_back(static_cast<float>(v / sum));
    }
    k.gamma = static_cast<float>(p.gamma);
    k.contrast = static_cast<float>(p.contrast);
    k.jitter_bias = bias;
    k.noise_std = static_cast<float>(p.noise_std);
    k.noise_key = p.noise_key;
    k.left = p.border_left, k.right = p.border_right, k.top = p.border_top, k.bottom = p.border_bottom;
    any_photometric = any_photometric || k.photometric;
  }
  DeviceArray<ImageConstants> device_constants(constants.data(), batch);
  const std::int64_t total = static_cast<std::int64_t>(batch) * size * size;
  augment_kernel<<<grid_stride_blocks(total), kElementThreads, 0, stream()>>>(out, in, device_constants.get(), batch,
                                                                              size);
  CXR_CUDA_LAUNCH_CHECK();
  if (!any_photometric) return;
  const DeviceArray<float> device_taps(taps.data(), static_cast<std::int64_t>(taps.size()));
  const DeviceArray<float> rows(taps.empty() ? 0 : total);
  if (!taps.empty()) {
    blur_rows_kernel<<<grid_stride_blocks(total), kElementThreads, 0, stream()>>>(
        rows.get(), out, device_constants.get(), device_taps.get(), batch, size);
    CXR_CUDA_LAUNCH_CHECK();
  }
  photometric_kernel<<<grid_stride_blocks(total), kElementThreads, 0, stream()>>>(
      out, rows.get(), device_constants.get(), device_taps.get(), batch, size, inv_std, shift);
  CXR_CUDA_LAUNCH_CHECK();
}

void normalize_images(float* out, const std::uint8_t* in, std::int64_t n, float mean, float stddev) {
  if (n <= 0) return;
  const float scale = 1.0f / (255.0f * stddev), shift = -mean / stddev;  // as the CPU
  normalize_kernel<<<grid_stride_blocks(n), kElementThreads, 0, stream()>>>(out, in, n, scale, shift);
  CXR_CUDA_LAUNCH_CHECK();
}

}  // namespace cxr::cuda
