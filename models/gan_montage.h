// Pictures of GAN output: one generated image as 8-bit grey, and a grid of grey
// tiles (sample sheets, nearest-neighbour pairs) as one RGB image for a PNG.
#pragma once

#include "engine/data/image.h"
#include "engine/tensor.h"
#include "models/overlay.h"

#include <cstdint>
#include <vector>

namespace cxr {

// Image i of [N, 1, S, S] in [-1, 1] as S x S grey bytes.
data::GreyImage gan_image(const Tensor& images, std::int64_t i);

// Tiles (all of one size) left to right, top to bottom in `columns` columns, each
// enlarged `scale` times (nearest neighbour), `gap` pixels of mid-grey between them.
RgbImage tile_grid(const std::vector<data::GreyImage>& tiles, int columns, int scale = 1, int gap = 2);

}  // namespace cxr
