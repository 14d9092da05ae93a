// Training augmentation and input normalisation of uint8 images: the pixel work of
// engine/data/augment.h (whose header gives the stages and why), over a batch.
//
// Shape legend: B images of S x S pixels; in [B, S, S] uint8, out [B, S, S] float32,
// contiguous. The JPEG re-encode is not here: it works on the uint8 image before
// the warp, and the caller does it (engine/data/augment.cpp).
// Images are processed one after another, each by one thread: a batch's result is
// the same as its images augmented one by one.
#pragma once

#include "kernels/common/augment_params.h"

#include <cstdint>

namespace cxr::cpu {

// out[i] = (in[i] / 255 - mean) / stddev for n pixels.
void normalize_images(float* out, const std::uint8_t* in, std::int64_t n, float mean, float stddev);

// out[b] = normalise(border(clamp(noise(jitter(gamma(blur(warp(in[b])))))))) with params[b];
// the default parameters' stages (warp, jitter, normalise) take one pass.
void augment_images(float* out, const std::uint8_t* in, int batch, int size, const AugmentParams* params, float mean,
                    float stddev);

}  // namespace cxr::cpu
