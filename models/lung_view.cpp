#include "models/lung_view.h"

#include "base/check.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace cxr {

LungView LungView::parse(const std::string& text) {
  const auto colon = text.find(':');
  const std::string mode = text.substr(0, colon);
  LungView view;
  if (mode == "none" && colon == std::string::npos) return view;
  CXR_CHECK(mode == "crop" || mode == "mask", "unknown lung view '{}' (expected none, crop[:MARGIN] or mask[:MARGIN])",
            text);
  view.mode = mode == "crop" ? LungViewMode::crop : LungViewMode::mask;
  if (colon != std::string::npos) {
    const std::string margin = text.substr(colon + 1);
    std::size_t used = 0;
    try {
      view.margin = std::stod(margin, &used);
    } catch (const std::logic_error&) {
      used = 0;
    }
    CXR_CHECK(used == margin.size() && !margin.empty() && view.margin >= 0 && view.margin <= 1,
              "lung view '{}': the margin must be a number from 0 to 1", text);
  }
  return view;
}

std::string LungView::str() const {
  if (mode == LungViewMode::none) return "none";
  return fmt::format("{}:{}", mode == LungViewMode::crop ? "crop" : "mask", margin);
}

namespace {

LungViewResult crop_to_lungs(const data::GreyImage& square, const std::vector<std::uint8_t>& lungs, double margin) {
  const int size = square.width;
  int x0 = size, y0 = size, x1 = -1, y1 = -1;
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      if (lungs[static_cast<std::size_t>(y) * size + x]) {
        x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
      }
  const int box = std::max(x1 - x0 + 1, y1 - y0 + 1);
  const int side = std::min(size, static_cast<int>(std::lround(box * (1 + 2 * margin))));
  if (side == size) return {square, true, 0, 0, size};  // the whole square (a resize to itself would still filter it)
  // Centred on the box, then moved inside the square.
  const int left = std::clamp((x0 + x1 + 1 - side) / 2, 0, size - side);
  const int top = std::clamp((y0 + y1 + 1 - side) / 2, 0, size - side);
  data::GreyImage crop{side, side, std::vector<std::uint8_t>(static_cast<std::size_t>(side) * side)};
  for (int y = 0; y < side; ++y)
    std::copy_n(square.pixels.begin() + static_cast<std::ptrdiff_t>(top + y) * size + left, side,
                crop.pixels.begin() + static_cast<std::ptrdiff_t>(y) * side);
  data::GreyImage out{size, size, std::vector<std::uint8_t>(static_cast<std::size_t>(size) * size)};
  data::fit_square(out.pixels.data(), size, crop, data::Fit::pad);  // square to square: a plain resize
  return {std::move(out), true, left, top, side};
}

// Max filter of radius r along rows, then columns (a square structuring element).
std::vector<std::uint8_t> dilate(const std::vector<std::uint8_t>& mask, int size, int r) {
  std::vector<std::uint8_t> rows(mask.size(), 0), out(mask.size(), 0);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      for (int d = std::max(0, x - r); d <= std::min(size - 1, x + r); ++d)
        if (mask[static_cast<std::size_t>(y) * size + d]) {
          rows[static_cast<std::size_t>(y) * size + x] = 1;
          break;
        }
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      for (int d = std::max(0, y - r); d <= std::min(size - 1, y + r); ++d)
        if (rows[static_cast<std::size_t>(d) * size + x]) {
          out[static_cast<std::size_t>(y) * size + x] = 1;
          break;
        }
  return out;
}

}  // namespace

LungViewResult apply_lung_view(const LungView& view, const data::GreyImage& square,
                               const std::vector<std::uint8_t>& lungs) {
  CXR_CHECK(square.width == square.height && square.width >= 1 && lungs.size() == square.pixels.size(),
            "apply_lung_view: a {}x{} image with a mask of {} pixels (expected a square and a mask of its size)",
            square.width, square.height, lungs.size());
  const bool empty = std::none_of(lungs.begin(), lungs.end(), [](std::uint8_t v) { return v != 0; });
  if (view.mode == LungViewMode::none || empty) return {square, false};
  if (view.mode == LungViewMode::crop) return crop_to_lungs(square, lungs, view.margin);
  const int size = square.width;
  const std::vector<std::uint8_t> keep = dilate(lungs, size, static_cast<int>(std::lround(view.margin * size)));
  data::GreyImage out = square;
  for (std::size_t i = 0; i < keep.size(); ++i)
    if (!keep[i]) out.pixels[i] = 0;
  return {std::move(out), true};
}

LungViewResult lung_view_of_square(SegModel& segmenter, const LungView& view, const data::GreyImage& square) {
  CXR_CHECK(segmenter.task == SegTask::lung_fields, "a lung view needs a lung-fields segmenter, not a {} one",
            seg_task_name(segmenter.task));
  if (view.mode == LungViewMode::none) return {square, false};
  const SegPrediction lungs = predict_seg(segmenter, square);
  return apply_lung_view(view, square, lungs.labels);
}

data::FitGeometry cut_geometry(const data::FitGeometry& fitted, const LungViewResult& view, int size) {
  if (view.crop_side <= 0) return fitted;
  const double scale = static_cast<double>(size) / view.crop_side;
  data::FitGeometry g = fitted;
  g.dst_x = static_cast<int>(std::lround((fitted.dst_x - view.crop_left) * scale));
  g.dst_y = static_cast<int>(std::lround((fitted.dst_y - view.crop_top) * scale));
  g.dst_w = std::max(1, static_cast<int>(std::lround(fitted.dst_w * scale)));
  g.dst_h = std::max(1, static_cast<int>(std::lround(fitted.dst_h * scale)));
  return g;
}

LungViewStage::LungViewStage(LungView view, SegModel segmenter) : view_(view), segmenter_(std::move(segmenter)) {
  CXR_CHECK(segmenter_.task == SegTask::lung_fields, "a lung view needs a lung-fields segmenter, not a {} one",
            seg_task_name(segmenter_.task));
}

LungViewResult LungViewStage::apply(const data::GreyImage& square) {
  const std::lock_guard lock(mutex_);
  return lung_view_of_square(segmenter_, view_, square);
}

std::filesystem::path lung_segmenter_path_for(const std::filesystem::path& model_path) {
  std::filesystem::path p = model_path;
  if (p.extension() == ".safetensors") p.replace_extension();
  return p.string() + ".lungs.safetensors";
}

}  // namespace cxr
