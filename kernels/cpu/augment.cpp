// The CPU's image augmentation (rules: kernels/cpu/augment.h); the GPU's twin is
// kernels/cuda/augment.cu.
#include "kernels/cpu/augment.h"

#include "kernels/common/counter_random.h"

#include <algorithm>
#include <cmath>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace cxr::cpu {

void normalize_images(float* out, const std::uint8_t* in, std::int64_t n, float mean, float stddev) {
  const float scale = 1.0f / (255.0f * stddev), shift = -mean / stddev;
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(in[i]) * scale + shift;
}

namespace {

// Bilinear sample of the size x size image at (sx, sy), black outside.
float sample(const std::uint8_t* in, int size, float sx, float sy) {
  const float fx0 = std::floor(sx), fy0 = std::floor(sy);
  const int x0 = static_cast<int>(fx0), y0 = static_cast<int>(fy0), last = size - 1;
  auto at = [&](int x, int y) -> float {
    return x >= 0 && y >= 0 && x <= last && y <= last ? in[static_cast<std::int64_t>(y) * size + x] : 0.0f;
  };
  const float wx = sx - fx0, wy = sy - fy0;
  const float top = at(x0, y0) + wx * (at(x0 + 1, y0) - at(x0, y0));
  const float bottom = at(x0, y0 + 1) + wx * (at(x0 + 1, y0 + 1) - at(x0, y0 + 1));
  return top + wy * (bottom - top);
}

// All four taps of (sx, sy) are inside the image.
bool interior(float sx, float sy, int size) {
  const float fx = std::floor(sx), fy = std::floor(sy);
  return fx >= 0 && fy >= 0 && fx < size - 1 && fy < size - 1;
}

// Narrows [lo, hi) to the x where 0 <= s0 + a x < bound.
void narrow(double& lo, double& hi, double s0, double a, double bound) {
  if (std::abs(a) < 1e-12) {
    if (s0 < 0 || s0 >= bound) hi = lo;
    return;
  }
  const double t0 = -s0 / a, t1 = (bound - s0) / a;
  lo = std::max(lo, std::min(t0, t1));
  hi = std::min(hi, std::max(t0, t1));
}

// out = clamp(warp(in) * gain + bias, 0, 1) * inv_std + shift: the warp with the
// default path's jitter and normalisation fused in.
void warp(float* out, const std::uint8_t* in, int size, const AugmentParams& p, float gain, float bias, float inv_std,
          float shift) {
  // Inverse map, output pixel q -> source point s:
  //   s = c + F R(-angle) (q - c - t) / scale,  F = mirror x when flipping, c = centre.
  // Along a row, s moves by (ax, ay) per output column.
  const double c = (size - 1) * 0.5;
  const double cs = std::cos(p.angle) / p.scale, sn = std::sin(p.angle) / p.scale;
  const double mirror = p.flip ? -1.0 : 1.0;
  const double ax = mirror * cs, bx = mirror * sn;  // sx = c + ax*u + bx*v
  const double ay = -sn, by = cs;                   // sy = c + ay*u + by*v
  const float fax = static_cast<float>(ax), fay = static_cast<float>(ay);
  auto finish = [&](float v) {
    return std::clamp(v * gain + bias, 0.0f, 1.0f) * inv_std + shift;
  };

  for (int y = 0; y < size; ++y) {
    const double u0 = -c - p.tx, v = y - c - p.ty;
    const float sx0 = static_cast<float>(c + ax * u0 + bx * v);
    const float sy0 = static_cast<float>(c + ay * u0 + by * v);
    auto sx = [&](int x) {
      return std::fma(fax, static_cast<float>(x), sx0);
    };
    auto sy = [&](int x) {
      return std::fma(fay, static_cast<float>(x), sy0);
    };
    float* row = out + static_cast<std::int64_t>(y) * size;

    // The columns [xa, xb) whose four taps are all inside: one interval, since s is
    // linear in x. Found analytically, then its ends checked with the exact formula.
    double lo = 0, hi = size;
    narrow(lo, hi, sx0, fax, size - 1);
    narrow(lo, hi, sy0, fay, size - 1);
    int xa = static_cast<int>(std::clamp(std::ceil(lo), 0.0, static_cast<double>(size)));
    int xb = static_cast<int>(std::clamp(std::ceil(hi), static_cast<double>(xa), static_cast<double>(size)));
    while (xa < xb && !interior(sx(xa), sy(xa), size)) ++xa;
    while (xb > xa && !interior(sx(xb - 1), sy(xb - 1), size)) --xb;

    for (int x = 0; x < xa; ++x) row[x] = finish(sample(in, size, sx(x), sy(x)));
    int x = xa;
#if defined(__AVX2__) && defined(__FMA__)
    // 8 columns at a time. Two gathers of 4 bytes fetch the taps: (x0, x0+1) from
    // row y0 at offset o, and (x0, x0+1) of row y0+1 as bytes 2, 3 at o + size - 2,
    // which keeps both reads inside the image. Clamping the indices keeps them
    // inside even where float rounding disagrees with interior() by an ulp.
    const __m256 vsx0 = _mm256_set1_ps(sx0), vsy0 = _mm256_set1_ps(sy0);
    const __m256 vax = _mm256_set1_ps(fax), vay = _mm256_set1_ps(fay);
    const __m256 vgain = _mm256_set1_ps(gain), vbias = _mm256_set1_ps(bias);
    const __m256 vinv = _mm256_set1_ps(inv_std), vshift = _mm256_set1_ps(shift);
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    const __m256i vmax = _mm256_set1_epi32(size - 2), vzero = _mm256_setzero_si256();
    const __m256i vsize = _mm256_set1_epi32(size), byte = _mm256_set1_epi32(0xff);
    const __m256 lane = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
    const int* base = reinterpret_cast<const int*>(in);
    for (; x + 8 <= xb; x += 8) {
      const __m256 xs = _mm256_add_ps(_mm256_set1_ps(static_cast<float>(x)), lane);
      const __m256 vx = _mm256_fmadd_ps(vax, xs, vsx0), vy = _mm256_fmadd_ps(vay, xs, vsy0);
      const __m256 fx = _mm256_floor_ps(vx), fy = _mm256_floor_ps(vy);
      const __m256 wx = _mm256_sub_ps(vx, fx), wy = _mm256_sub_ps(vy, fy);
      const __m256i xi = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvttps_epi32(fx), vzero), vmax);
      const __m256i yi = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvttps_epi32(fy), vzero), vmax);
      const __m256i off = _mm256_add_epi32(_mm256_mullo_epi32(yi, vsize), xi);
      const __m256i top = _mm256_i32gather_epi32(base, off, 1);
      const __m256i bot =
          _mm256_i32gather_epi32(base, _mm256_add_epi32(off, _mm256_sub_epi32(vsize, _mm256_set1_epi32(2))), 1);
      const __m256 p00 = _mm256_cvtepi32_ps(_mm256_and_si256(top, byte));
      const __m256 p01 = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(top, 8), byte));
      const __m256 p10 = _mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(bot, 16), byte));
      const __m256 p11 = _mm256_cvtepi32_ps(_mm256_srli_epi32(bot, 24));
      const __m256 t = _mm256_fmadd_ps(wx, _mm256_sub_ps(p01, p00), p00);
      const __m256 b = _mm256_fmadd_ps(wx, _mm256_sub_ps(p11, p10), p10);
      __m256 val = _mm256_fmadd_ps(wy, _mm256_sub_ps(b, t), t);
      val = _mm256_min_ps(_mm256_max_ps(_mm256_fmadd_ps(val, vgain, vbias), zero), one);
      _mm256_storeu_ps(row + x, _mm256_fmadd_ps(val, vinv, vshift));
    }
#endif
    for (; x < size; ++x) row[x] = finish(sample(in, size, sx(x), sy(x)));
  }
}

// The normalised Gaussian of standard deviation sigma (pixels) at offsets -r..r,
// r = ceil(3 sigma).
std::vector<float> gaussian_taps(double sigma) {
  const int r = static_cast<int>(std::ceil(3.0 * sigma));
  std::vector<double> w(2 * r + 1);
  double sum = 0.0;
  for (int k = -r; k <= r; ++k) sum += w[k + r] = std::exp(-0.5 * k * k / (sigma * sigma));
  std::vector<float> taps;
  for (double v : w) taps.push_back(static_cast<float>(v / sum));
  return taps;
}

// Blurs the size x size image in place with the separable kernel `taps`, clamp-to-edge:
// rows, then columns. Each output adds its taps from -r to r in that order, as the GPU does.
void blur(float* image, int size, const std::vector<float>& taps) {
  const int r = static_cast<int>(taps.size() / 2);
  std::vector<float> rows(static_cast<std::size_t>(size) * size), padded(size + 2 * r);
  for (int y = 0; y < size; ++y) {
    const float* src = image + static_cast<std::int64_t>(y) * size;
    for (int i = 0; i < size + 2 * r; ++i) padded[i] = src[std::clamp(i - r, 0, size - 1)];
    float* dst = rows.data() + static_cast<std::int64_t>(y) * size;
    std::fill(dst, dst + size, 0.0f);
    for (int k = 0; k <= 2 * r; ++k)
      for (int x = 0; x < size; ++x) dst[x] += taps[k] * padded[x + k];
  }
  for (int y = 0; y < size; ++y) {
    float* dst = image + static_cast<std::int64_t>(y) * size;
    std::fill(dst, dst + size, 0.0f);
    for (int k = 0; k <= 2 * r; ++k) {
      const float* src = rows.data() + static_cast<std::int64_t>(std::clamp(y + k - r, 0, size - 1)) * size;
      for (int x = 0; x < size; ++x) dst[x] += taps[k] * src[x];
    }
  }
}

// Adds s z to each of the n pixels, z a standard normal from the counter (key, pixel
// index): pixels 2j and 2j + 1 take the pair j, as the GPU does.
void add_noise(float* image, std::int64_t n, float s, std::uint64_t key) {
  for (std::int64_t i = 0; i < n; i += 2) {
    float z0, z1;
    normal_pair_at(key, static_cast<std::uint64_t>(i / 2), z0, z1);
    image[i] += s * z0;
    if (i + 1 < n) image[i + 1] += s * z1;
  }
}

// Whether any stage beyond the default warp and jitter was drawn.
bool photometric(const AugmentParams& p) {
  return p.blur_sigma > 0 || p.gamma != 1.0 || p.noise_std > 0 ||
         p.border_left + p.border_right + p.border_top + p.border_bottom > 0;
}

// One image: the stages of augment_images.
void augment_image(float* out, const std::uint8_t* in, int size, const AugmentParams& p, float mean, float stddev) {
  // Jitter then normalise: ((v/255 - 0.5) * contrast + 0.5 + brightness), clamped, then (x - mean)/stddev.
  const float gain = static_cast<float>(p.contrast / 255.0);
  const float bias = static_cast<float>(0.5 - 0.5 * p.contrast + p.brightness);
  const float inv_std = 1.0f / stddev, shift = -mean / stddev;
  if (!photometric(p)) {
    warp(out, in, size, p, gain, bias, inv_std, shift);
    return;
  }

  // The warp alone, to intensity in [0, 1]; then one stage at a time.
  warp(out, in, size, p, 1.0f / 255.0f, 0.0f, 1.0f, 0.0f);
  if (p.blur_sigma > 0) blur(out, size, gaussian_taps(p.blur_sigma));
  const std::int64_t n = static_cast<std::int64_t>(size) * size;
  const float gamma = static_cast<float>(p.gamma), contrast = static_cast<float>(p.contrast);
  for (std::int64_t i = 0; i < n; ++i) {
    const float v = gamma == 1.0f ? out[i] : std::pow(out[i], gamma);
    out[i] = v * contrast + bias;  // (v - 0.5) * contrast + 0.5 + brightness
  }
  if (p.noise_std > 0) add_noise(out, n, static_cast<float>(p.noise_std), p.noise_key);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      const bool band =
          x < p.border_left || x >= size - p.border_right || y < p.border_top || y >= size - p.border_bottom;
      float& v = out[static_cast<std::int64_t>(y) * size + x];
      v = (band ? 0.0f : std::clamp(v, 0.0f, 1.0f)) * inv_std + shift;
    }
}

}  // namespace

void augment_images(float* out, const std::uint8_t* in, int batch, int size, const AugmentParams* params, float mean,
                    float stddev) {
  const std::int64_t pixels = static_cast<std::int64_t>(size) * size;
  for (int b = 0; b < batch; ++b) augment_image(out + b * pixels, in + b * pixels, size, params[b], mean, stddev);
}

}  // namespace cxr::cpu
