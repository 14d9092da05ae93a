// The parameters of one image's training augmentation, drawn on the host
// (data::sample_augment) and taken as they are by the CPU's and the GPU's kernels
// (kernels/cpu/augment.h, kernels/cuda/augment.h): plain data.
#pragma once

#include <cstdint>

namespace cxr {

struct AugmentParams {
  double angle = 0.0;  // radians
  double scale = 1.0;
  double tx = 0.0, ty = 0.0;  // pixels
  bool flip = false;
  double brightness = 0.0, contrast = 1.0;
  double gamma = 1.0;
  double blur_sigma = 0.0;  // pixels; 0: no blur
  double noise_std = 0.0;   // intensity in [0, 1]; 0: no noise
  std::uint64_t noise_key = 0;
  int border_left = 0, border_right = 0, border_top = 0, border_bottom = 0;  // pixels
  // 1..100; 0: no re-encode. Applied to the uint8 image before the kernels run, on
  // the host (data::augment_image, data::make_image_batch): the kernels ignore it.
  int jpeg_quality = 0;
};

}  // namespace cxr
