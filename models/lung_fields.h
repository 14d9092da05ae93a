// Where the lungs are on a model's input square, to measure how much of a heatmap
// falls outside them (a model that looks at the corners, the collimation or the
// burned-in text is reading the hospital, not the lungs).
//
// Annotated images (the ieee8023 COCO lung boxes, Right Lung / Left Lung) use their
// own boxes, scaled from the annotated size to the decoded file and through the fit
// geometry onto the square; a file whose aspect ratio differs from the annotated
// one's is another crop of the figure and gets no boxes of its own. Every other
// image uses a prior: the pixels inside the lung boxes of at least half of the
// annotated images of the dataset. That prior is an average of adult hospital films;
// on children (Kermany) and on films framed otherwise it is an approximation, and the
// reports say which images were measured against it. As an option, images without
// boxes take a mask predicted for them by the lung segmenter instead of the prior
// (models/lung_mask_prediction.h); the reports count those separately.
#pragma once

#include "data/dataset.h"
#include "models/heatmap_eval.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cxr {

// The boxes of an annotated file on a map_size square (the cache square `square`
// fitted by `fit`, then resized to map_size), or nothing when the file's aspect ratio
// is not the annotated one's. Throws cxr::Error when the file's size cannot be read.
std::optional<std::vector<Box>> file_boxes_on_map(const AnnotatedImage& annotated, const std::filesystem::path& file,
                                                  int square, data::Fit fit, int map_size);

class LungFields {
 public:
  // The masks of the dataset's annotated ieee8023 images (files under covid_dir) and
  // the prior from them. No boxes: no masks and no prior.
  static LungFields build(const data::Dataset& dataset, const std::map<std::string, AnnotatedImage>& boxes,
                          const std::filesystem::path& covid_dir, int map_size);

  // Image `index` (not annotated) is measured against `mask` (map_size squared, 0/1)
  // instead of the prior.
  void set_predicted(std::int64_t index, std::vector<std::uint8_t> mask);

  // The image's own mask, else its predicted one, else the prior; nullptr when there
  // is none of them.
  const std::vector<std::uint8_t>* mask(std::int64_t index) const;
  bool annotated(std::int64_t index) const { return own_.count(index) > 0; }
  bool predicted(std::int64_t index) const { return predicted_.count(index) > 0; }
  std::int64_t annotated_images() const { return static_cast<std::int64_t>(own_.size()); }
  bool has_prior() const { return !prior_.empty(); }
  double prior_share() const;  // the share of the square the prior covers

 private:
  std::map<std::int64_t, std::vector<std::uint8_t>> own_, predicted_;
  std::vector<std::uint8_t> prior_;
};

// The default COCO lung-box file inside an ieee8023 folder.
std::filesystem::path default_lung_boxes(const std::filesystem::path& covid_dir);

}  // namespace cxr
