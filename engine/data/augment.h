// Seeded training augmentation and input normalisation, uint8 cache image -> float.
//
// One pass per image: a random affine warp (rotation, scale, translation about the
// centre) sampled bilinearly, with black outside the source (black is air on a
// radiograph, and the padding of fit_square); then brightness/contrast jitter in
// [0, 1] intensity, clamped to [0, 1]; then (v - mean) / stddev.
//
// No vertical flip (never anatomical). Horizontal flip is off by default: chest
// radiographs are not left-right symmetric (the heart, the aortic knob and the
// gastric bubble are on the left, the liver on the right), so a mirrored film is a
// picture of situs inversus, and the burned-in L/R markers would read backwards.
// It is available for experiments only.
#pragma once

#include "engine/random.h"

#include <cstdint>

namespace cxr::data {

struct AugmentOptions {
  double rotation_deg = 10.0;            // angle uniform in [-r, r]
  double scale_min = 0.9, scale_max = 1.1;
  double translate = 0.08;               // shift uniform in [-t, t] x image size, each axis
  double brightness = 0.1;               // added, uniform in [-b, b] (intensity in [0, 1])
  double contrast = 0.1;                 // factor about 0.5, uniform in [1 - c, 1 + c]
  bool horizontal_flip = false;          // with probability 1/2 when on
};

struct AugmentParams {
  double angle = 0.0;         // radians
  double scale = 1.0;
  double tx = 0.0, ty = 0.0;  // pixels
  bool flip = false;
  double brightness = 0.0, contrast = 1.0;
};

AugmentParams sample_augment(const AugmentOptions& options, int size, Generator& gen);

// out[i] = (in[i] / 255 - mean) / stddev for n pixels.
void normalize_image(float* out, const std::uint8_t* in, std::int64_t n, float mean, float stddev);

// out (size x size floats) = normalise(jitter(warp(in))).
void augment_image(float* out, const std::uint8_t* in, int size, const AugmentParams& p, float mean,
                   float stddev);

}  // namespace cxr::data
