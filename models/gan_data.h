// The GAN's training images: one class's frontal X-rays (PA or AP views) of one split
// of a built dataset (`cxr data build`), shrunk from the cache's side to the GAN's
// and scaled to the generator's tanh range [-1, 1].
#pragma once

#include "data/dataset.h"
#include "engine/tensor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace cxr {

// PA, AP, "AP Supine", "AP semi erect", ...; not lateral (L), unknown or CT views.
bool is_frontal_view(const std::string& view);

struct GanImages {
  Tensor images;                   // float32 [M, 1, size, size] in [-1, 1]
  std::vector<std::int64_t> rows;  // the dataset rows they come from
};

// Throws cxr::Error when the class is unknown or no image qualifies.
GanImages load_gan_images(const data::Dataset& dataset, data::Split split, const std::string& class_name, int size);

// [-1, 1] -> 0..255, rounded and clamped (the inverse of load_gan_images' scaling).
std::uint8_t gan_pixel_to_byte(float value);

}  // namespace cxr
