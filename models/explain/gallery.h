// A contact sheet of explanations: one row per X-ray, one column per method, each
// tile the method's map over the X-ray (models/overlay.h, render_overlay), shrunk by
// an integer factor (box average) so that a whole comparison stays a small PNG.
#pragma once

#include "engine/data/image.h"
#include "engine/tensor.h"
#include "models/overlay.h"

#include <vector>

namespace cxr {

// images[r] (S x S) and maps[r][c] ([S, S] in [0, 1]); shrink >= 1 divides S.
RgbImage explanation_gallery(const std::vector<data::GreyImage>& images, const std::vector<std::vector<Tensor>>& maps,
                             double opacity, int shrink);

}  // namespace cxr
