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
#include <filesystem>
#include <mutex>
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
  int crop_left = 0, crop_top = 0, crop_side = 0;  // the crop's square on the input; side 0: no crop
};

// The fit geometry of the cut square: `fitted` (source -> input square) followed by the
// crop of `view` (input square -> cut square), so heatmaps land on the source where the
// cut square's pixels came from. Unchanged without a crop. Rounded to whole pixels of
// the square (the geometry holds integers): off by at most half a pixel.
data::FitGeometry cut_geometry(const data::FitGeometry& fitted, const LungViewResult& view, int size);
LungViewResult apply_lung_view(const LungView& view, const data::GreyImage& square,
                               const std::vector<std::uint8_t>& lungs);

// The same with the mask predicted by a lung-fields segmenter on the square.
LungViewResult lung_view_of_square(SegModel& segmenter, const LungView& view, const data::GreyImage& square);

// A classifier's lung view with its segmenter, as load_model finds them: inference
// (models/inference.cpp) passes every fitted square through it before normalisation,
// exactly as `cxr lungs apply` did to the squares the classifier trained on. One
// segmenter serves every thread, one square at a time.
class LungViewStage {
 public:
  LungViewStage(LungView view, SegModel segmenter);
  LungViewResult apply(const data::GreyImage& square);
  const LungView& view() const { return view_; }

 private:
  LungView view_;
  SegModel segmenter_;
  std::mutex mutex_;
};

// Where a classifier's segmenter lives: model.safetensors -> model.lungs.safetensors.
std::filesystem::path lung_segmenter_path_for(const std::filesystem::path& model_path);

}  // namespace cxr
