#include "engine/data/augment.h"

#include "base/check.h"
#include "kernels/backend.h"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <cmath>
#include <memory>

namespace cxr::data {

AugmentOptions strong_augment() {
  AugmentOptions o;
  o.brightness = 0.2;
  o.contrast = 0.2;
  o.gamma = 1.5;
  o.blur_p = 0.3;
  o.blur_sigma_max = 1.5 / 224;
  o.noise_std_max = 0.03;
  o.border_p = 0.3;
  o.border_max = 0.08;
  o.jpeg_p = 0.3;
  o.jpeg_quality_min = 30;
  return o;
}

AugmentParams sample_augment(const AugmentOptions& o, int size, Generator& gen) {
  constexpr double kPi = 3.14159265358979323846;
  CXR_CHECK(o.gamma >= 1.0 && o.jpeg_quality_min >= 1 && o.jpeg_quality_min <= 95,
            "augment: gamma {} must be at least 1 and jpeg_quality_min {} in [1, 95]", o.gamma, o.jpeg_quality_min);
  AugmentParams p;
  // A fixed draw order, so a seed gives the same parameters whatever is enabled.
  p.angle = gen.uniform(-o.rotation_deg, o.rotation_deg) * kPi / 180.0;
  p.scale = gen.uniform(o.scale_min, o.scale_max);
  p.tx = gen.uniform(-o.translate, o.translate) * size;
  p.ty = gen.uniform(-o.translate, o.translate) * size;
  p.brightness = gen.uniform(-o.brightness, o.brightness);
  p.contrast = gen.uniform(1.0 - o.contrast, 1.0 + o.contrast);
  const bool coin = gen.uniform() < 0.5;
  p.flip = o.horizontal_flip && coin;
  // The photometric draws come last, so the default options keep the parameters of before.
  const double log_gamma = std::log(o.gamma);
  p.gamma = std::exp(gen.uniform(-log_gamma, log_gamma));  // exp(0) = 1 exactly when off
  const bool blur = gen.uniform() < o.blur_p;
  const double sigma = gen.uniform(0.0, o.blur_sigma_max) * size;
  p.blur_sigma = blur ? sigma : 0.0;
  p.noise_std = gen.uniform(0.0, o.noise_std_max);
  p.noise_key = gen.next_u64();
  const bool border = gen.uniform() < o.border_p;
  for (int* side : {&p.border_left, &p.border_right, &p.border_top, &p.border_bottom}) {
    const auto width = static_cast<int>(gen.uniform(0.0, o.border_max) * size);  // floor: non-negative
    *side = border ? width : 0;
  }
  const bool jpeg = gen.uniform() < o.jpeg_p;
  const auto quality = static_cast<int>(o.jpeg_quality_min + gen.below(96 - o.jpeg_quality_min));
  p.jpeg_quality = jpeg ? quality : 0;
  return p;
}

void normalize_image(float* out, const std::uint8_t* in, std::int64_t n, float mean, float stddev) {
  cpu_backend().normalize_images(out, in, n, mean, stddev);
}

void augment_image(float* out, const std::uint8_t* in, int size, const AugmentParams& p, float mean, float stddev) {
  std::vector<std::uint8_t> recoded;
  if (p.jpeg_quality > 0) {
    recoded = jpeg_round_trip(in, size, p.jpeg_quality);
    in = recoded.data();
  }
  cpu_backend().augment_images(out, in, 1, size, &p, mean, stddev);
}

std::vector<std::uint8_t> jpeg_round_trip(const std::uint8_t* in, int size, int quality) {
  std::vector<std::uint8_t> encoded;
  auto append = [](void* context, void* data, int len) {
    auto* bytes = static_cast<std::vector<std::uint8_t>*>(context);
    bytes->insert(bytes->end(), static_cast<const std::uint8_t*>(data), static_cast<const std::uint8_t*>(data) + len);
  };
  CXR_CHECK(stbi_write_jpg_to_func(append, &encoded, size, size, 1, in, quality) != 0,
            "augment: JPEG encoding of a {0}x{0} image at quality {1} failed", size, quality);
  int width = 0, height = 0, channels = 0;
  const std::unique_ptr<stbi_uc, void (*)(void*)> decoded(
      stbi_load_from_memory(encoded.data(), static_cast<int>(encoded.size()), &width, &height, &channels, 1),
      stbi_image_free);
  CXR_CHECK(decoded && width == size && height == size, "augment: the re-encoded {0}x{0} JPEG decoded to {1}x{2}", size,
            width, height);
  return {decoded.get(), decoded.get() + static_cast<std::size_t>(size) * size};
}

}  // namespace cxr::data
