// Seeded training augmentation and input normalisation, uint8 cache image -> float.
//
// One pass per image with the default options: a random affine warp (rotation,
// scale, translation about the centre) sampled bilinearly, with black outside the
// source (black is air on a radiograph, and the padding of fit_square); then
// brightness/contrast jitter in [0, 1] intensity, clamped to [0, 1]; then
// (v - mean) / stddev.
//
// Photometric options, each off (the identity) by default, vary the "look" that
// tells one hospital's films from another's (contrast curve, sharpness, noise,
// compression, borders), since every COVID-19 image of the training data comes from
// one collection. With any of them drawn, the image goes through these stages:
//   JPEG re-encode (uint8, before anything else, as a lossy archive did it)
//   -> warp -> Gaussian blur (in output pixels, clamp-to-edge)
//   -> gamma v^g (the detector's or the film's response curve)
//   -> brightness/contrast (the window chosen for display)
//   -> additive Gaussian noise (quantum and electronic noise of the final grey)
//   -> clamp to [0, 1] -> black border bands (collimation, letterboxing: pure black,
//      so after the noise) -> normalise.
// An image whose drawn parameters are all the identity takes the one-pass path, so
// the default options give exactly the outputs they gave before these options.
// The noise is a counter-based hash of (key, pixel index) (kernels/common/counter_random.h),
// so the GPU (kernels/cuda/augment.h) draws the same noise as the CPU (kernels/cpu/augment.h).
//
// No vertical flip (never anatomical). Horizontal flip is off by default: chest
// radiographs are not left-right symmetric (the heart, the aortic knob and the
// gastric bubble are on the left, the liver on the right), so a mirrored film is a
// picture of situs inversus, and the burned-in L/R markers would read backwards.
// It is available for experiments only.
#pragma once

#include "engine/random.h"
#include "kernels/common/augment_params.h"

#include <cstdint>
#include <vector>

namespace cxr::data {

struct AugmentOptions {
  double rotation_deg = 10.0;  // angle uniform in [-r, r]
  double scale_min = 0.9, scale_max = 1.1;
  double translate = 0.08;       // shift uniform in [-t, t] x image size, each axis
  double brightness = 0.1;       // added, uniform in [-b, b] (intensity in [0, 1])
  double contrast = 0.1;         // factor about 0.5, uniform in [1 - c, 1 + c]
  bool horizontal_flip = false;  // with probability 1/2 when on
  double gamma = 1.0;            // exponent g with log g uniform in [-log gamma, log gamma]
  double blur_p = 0.0;           // probability of a Gaussian blur,
  double blur_sigma_max = 0.0;   //   sigma uniform in [0, s] x image size
  double noise_std_max = 0.0;    // noise std uniform in [0, n] (intensity in [0, 1])
  double border_p = 0.0;         // probability of black border bands,
  double border_max = 0.0;       //   each side's width uniform in [0, m] x image size
  double jpeg_p = 0.0;           // probability of a JPEG re-encode,
  int jpeg_quality_min = 95;     //   quality uniform in [q, 95]
};

// Stronger photometric augmentation against the source shortcut: the default
// geometry, brightness and contrast +-0.2, gamma in [1/1.5, 1.5], blur with
// probability 0.3 (sigma up to 1.5 px at 224 px), noise std up to 0.03, border
// bands with probability 0.3 (up to 8 % a side), JPEG with probability 0.3
// (quality 30 to 95).
AugmentOptions strong_augment();

// One image's parameters: the kernels' plain struct (kernels/common/augment_params.h).
using cxr::AugmentParams;

// Draws every parameter in a fixed order, the photometric ones after the others, so
// a seed gives the same parameters whatever is enabled.
AugmentParams sample_augment(const AugmentOptions& options, int size, Generator& gen);

// The CPU's kernels (kernels/cpu/augment.h), for one image in host memory.
// out[i] = (in[i] / 255 - mean) / stddev for n pixels.
void normalize_image(float* out, const std::uint8_t* in, std::int64_t n, float mean, float stddev);

// out (size x size floats) = normalise(border(clamp(noise(jitter(gamma(blur(warp(jpeg(in))))))))).
void augment_image(float* out, const std::uint8_t* in, int size, const AugmentParams& p, float mean, float stddev);

// The size x size grey image encoded as a JPEG at `quality` (1..100) with
// stb_image_write and decoded back with stb_image: blocking, ringing, lost detail.
std::vector<std::uint8_t> jpeg_round_trip(const std::uint8_t* in, int size, int quality);

}  // namespace cxr::data
