// Training augmentation and input normalisation of uint8 images on the GPU: the
// CUDA side of engine/data/augment.h's augment_image and normalize_image, over a
// batch. The random parameters are drawn on the host (data::sample_augment, the same
// seeded generator as the CPU path) and passed per image as plain data.
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
};

// out[b] = normalise(jitter(warp(in[b]))) with params[b] (a host array of B).
void augment_images(float* out, const std::uint8_t* in, int batch, int size, const AugmentImageParams* params,
                    float mean, float stddev);

// out[i] = (in[i] / 255 - mean) / stddev for n pixels.
void normalize_images(float* out, const std::uint8_t* in, std::int64_t n, float mean, float stddev);

}  // namespace cxr::cuda
