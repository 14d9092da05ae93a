// A built dataset directory opened for training: the memory-mapped image cache and
// the manifest's labels, splits and patients. Cheap to copy (shares the mapping).
#pragma once

#include "data/manifest.h"
#include "engine/data/cache_file.h"
#include "engine/data/image.h"

#include <climits>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace cxr::data {

class Dataset {
 public:
  // Opens dir/cache.bin and dir/manifest.csv and checks that they agree; reads the
  // fit from dir/stats.json (pad when the file or the setting is absent).
  static Dataset open(const std::filesystem::path& dir);
  // The images of `a` followed by those of `b` (b's ids continue after a's), e.g. a
  // built dataset and the samples added through the web app. They must agree on
  // image size, classes and fit; statistics are a's; the manifest hash covers both.
  static Dataset concat(const Dataset& a, const Dataset& b);

  std::int64_t size() const { return static_cast<std::int64_t>(rows_->size()); }
  int image_size() const { return cache_->info().size; }
  int num_classes() const { return cache_->info().num_classes; }
  const std::vector<std::string>& class_names() const;
  // The scheme's targets (data/labels.h): its classes, then its label sets.
  int num_targets() const;
  const std::vector<std::string>& target_names() const;
  // Train-split pixel statistics in [0, 1] units (the loader's default normalisation).
  float mean() const { return cache_->info().mean; }
  float stddev() const { return cache_->info().stddev; }

  const std::uint8_t* pixels(std::int64_t i) const {
    return i < second_from_ ? cache_->image(static_cast<std::uint64_t>(i))
                            : second_->image(static_cast<std::uint64_t>(i - second_from_));
  }
  // Image i's target index: a class (< num_classes()) or a label set (target_classes).
  int label(std::int64_t i) const { return (*rows_)[i].label; }
  const ManifestRow& row(std::int64_t i) const { return (*rows_)[i]; }
  std::vector<std::int64_t> indices(Split split) const;
  // How the source images were fitted to the square (a model needs the same at inference).
  Fit fit() const { return fit_; }
  // SHA-256 of manifest.csv: names the exact images, labels and split a model saw.
  const std::string& manifest_sha256() const { return manifest_sha256_; }

 private:
  std::shared_ptr<const CacheFile> cache_;
  std::shared_ptr<const CacheFile> second_;  // concat: images from row second_from_ on
  std::int64_t second_from_ = INT64_MAX;
  std::shared_ptr<const std::vector<ManifestRow>> rows_;
  Fit fit_ = Fit::pad;
  std::string manifest_sha256_;
};

}  // namespace cxr::data
