// What the classifier is allowed to see: the fitted square of a chest X-ray cut down
// to its lungs, so that the corners, the collimation, burned-in text and the body
// outline (where a hospital shows) leave the picture.
//
//   crop  the square around the lung mask's bounding box, grown by `margin` times the
//         box's longer side on every side (moved inside the image where it would
//         leave it), resized back to the full square
//   mask  every pixel farther than margin x side from the lung mask set to 0 (black)
//
// The lung mask comes from the lung segmenter (`cxr lungs train`) run on the same
// fitted square. An empty mask (the segmenter found no lungs) leaves the square as
// it is, and the caller is told. The same function serves a dataset (`cxr lungs
// apply`) and a single image, so training and prediction see the same pixels.
#pragma once

#include "engine/data/image.h"
#include "models/seg_model.h"

#include <cstdint>
#include <string>
#include <vector>

namespace cxr {

enum class LungViewMode { none, crop, mask };

struct LungView {
  LungViewMode mode = LungViewMode::none;
  double margin = 0.1;
  // "none", "crop:0.1", "mask:0.05" (the margin after the colon is optional).
  static LungView parse(const std::string& text);  // a cxr::Error on anything else
  std::string str() const;
};

// The view of `square` (size x size) given the lung mask on it (size x size, 0/1).
// changed is false when the mask was empty or the mode is none.
struct LungViewResult {
  data::GreyImage image;
  bool changed = false;
};
LungViewResult apply_lung_view(const LungView& view, const data::GreyImage& square,
                               const std::vector<std::uint8_t>& lungs);

// The same with the mask predicted by a lung-fields segmenter on the square.
LungViewResult lung_view_of_square(SegModel& segmenter, const LungView& view, const data::GreyImage& square);

}  // namespace cxr
