// Training augmentation and input normalisation of uint8 images on the GPU: the
// CUDA side of kernels/cpu/augment.h, same names, arguments and meaning. The random
// parameters are drawn on the host (data::sample_augment, the same seeded generator
// as the CPU path) and passed per image as plain data. The JPEG re-encode is not
// here: it works on the uint8 image before the warp, so the caller does it on the
// host (engine/data/device_batch.cpp).
//
// Shape legend: B images of S x S pixels; in [B, S, S] uint8, out [B, S, S] float32,
// both device pointers, contiguous.
#pragma once

#include "kernels/common/augment_params.h"

#include <cstdint>

namespace cxr::cuda {

// out[b] = normalise(border(clamp(noise(jitter(gamma(blur(warp(in[b])))))))) with
// params[b] (a host array of B).
void augment_images(float* out, const std::uint8_t* in, int batch, int size, const AugmentParams* params, float mean,
                    float stddev);

// out[i] = (in[i] / 255 - mean) / stddev for n pixels.
void normalize_images(float* out, const std::uint8_t* in, std::int64_t n, float mean, float stddev);

}  // namespace cxr::cuda
