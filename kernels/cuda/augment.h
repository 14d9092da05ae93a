// Training augmentation and input normalisation of uint8 images on the GPU: the
// CUDA side of engine/data/augment.h's augment_image and normalize_image, over a
// batch. The random parameters are drawn on the host (data::sample_augment, the same
// seeded generator as the CPU path) and passed per image as plain data. The JPEG
// re-encode is not here: it works on the uint8 image before the warp, so the caller
// does it on the host (engine/data/device_batch.cpp).
//
// Shape legend: B images of S x S pixels; in [B, S, S] uint8, out [B, S, S] float32,
// both device pointers, contiguous.
#pragma once

#include <cstdint>

namespace cxr::cuda {

// data::AugmentParams as plain data (engine headers are not included by .cu files).
struct AugmentImageParams {
  double angle, scale, tx, ty;  // radians, factor, pixels
  bool flip;
  double brightness, contrast;
  double gamma = 1.0, blur_sigma = 0.0, noise_std = 0.0;  // exponent, pixels, intensity
  std::uint64_t noise_key = 0;
  int border_left = 0, border_right = 0, border_top = 0, border_bottom = 0;  // pixels
};

// out[b] = normalise(border(clamp(noise(jitter(gamma(blur(warp(in[b])))))))) with
// params[b] (a host array of B).
void augment_images(float* out, const std::uint8_t* in, int batch, int size, const AugmentImageParams* params,
                    float mean, float stddev);

// out[i] = (in[i] / 255 - mean) / stddev for n pixels.
void normalize_images(float* out, const std::uint8_t* in, std::int64_t n, float mean, float stddev);

}  // namespace cxr::cuda
