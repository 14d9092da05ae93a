// A CT slice in grey with its predicted (or true) infection labels blended over it:
// ground-glass in yellow, consolidation (and the binary infection mask) in red.
#pragma once

#include "engine/data/image.h"
#include "models/overlay.h"

#include <cstdint>
#include <vector>

namespace cxr {

// labels: width x height of the image, 0 background, 1 or 2 a class (seg_model.h).
// binary: the labels come from the infection task (1 = infection, drawn red).
RgbImage render_seg_overlay(const data::GreyImage& image, const std::vector<std::uint8_t>& labels, bool binary,
                            double opacity = 0.45);

}  // namespace cxr
