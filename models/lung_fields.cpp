#include "models/lung_fields.h"

#include "base/check.h"

#include <stb/stb_image.h>

#include <cmath>

namespace cxr {

namespace fs = std::filesystem;

std::optional<std::vector<Box>> file_boxes_on_map(const AnnotatedImage& annotated, const fs::path& file, int square,
                                                  data::Fit fit, int map_size) {
  int w = 0, h = 0, channels = 0;
  CXR_CHECK(stbi_info(file.c_str(), &w, &h, &channels) != 0, "cannot read the size of '{}': {}", file.string(),
            stbi_failure_reason());
  const double aspect = static_cast<double>(w) / h;
  const double annotated_aspect = static_cast<double>(annotated.width) / annotated.height;
  if (std::abs(aspect / annotated_aspect - 1) > 0.02) return std::nullopt;
  std::vector<Box> boxes = boxes_on_square(annotated, w, h, data::fit_geometry(w, h, square, fit));
  const double to_map = static_cast<double>(map_size) / square;
  for (Box& b : boxes) b = {b.x0 * to_map, b.y0 * to_map, b.x1 * to_map, b.y1 * to_map};
  return boxes;
}

LungFields LungFields::build(const data::Dataset& dataset, const std::map<std::string, AnnotatedImage>& boxes,
                             const fs::path& covid_dir, int map_size) {
  LungFields fields;
  if (boxes.empty()) return fields;
  std::vector<int> votes(static_cast<std::size_t>(map_size) * map_size, 0);
  for (std::int64_t i = 0; i < dataset.size(); ++i) {
    const auto& row = dataset.row(i);
    if (row.source != data::Source::ieee8023) continue;
    const fs::path file = covid_dir / row.source_path;
    const auto it = boxes.find(file.filename().string());
    if (it == boxes.end() || !fs::exists(file)) continue;
    const auto on_map = file_boxes_on_map(it->second, file, dataset.image_size(), dataset.fit(), map_size);
    if (!on_map) continue;
    auto mask = box_mask(map_size, *on_map);
    for (std::size_t p = 0; p < mask.size(); ++p) votes[p] += mask[p];
    fields.own_.emplace(i, std::move(mask));
  }
  if (fields.own_.empty()) return fields;
  fields.prior_.resize(votes.size());
  for (std::size_t p = 0; p < votes.size(); ++p)
    fields.prior_[p] = 2 * votes[p] >= static_cast<int>(fields.own_.size());
  return fields;
}

void LungFields::set_predicted(std::int64_t index, std::vector<std::uint8_t> mask) {
  CXR_CHECK(!annotated(index), "image {} has its own lung boxes; a predicted mask would hide them", index);
  predicted_[index] = std::move(mask);
}

const std::vector<std::uint8_t>* LungFields::mask(std::int64_t index) const {
  if (const auto it = own_.find(index); it != own_.end()) return &it->second;
  if (const auto it = predicted_.find(index); it != predicted_.end()) return &it->second;
  return prior_.empty() ? nullptr : &prior_;
}

double LungFields::prior_share() const {
  return prior_.empty() ? 0.0 : mask_share(prior_);
}

fs::path default_lung_boxes(const fs::path& covid_dir) {
  return covid_dir / "annotations/imageannotation_ai_lung_bounding_boxes.json";
}

}  // namespace cxr
