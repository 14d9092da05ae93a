#include "engine/data/dataset.h"

#include "engine/check.h"
#include "engine/data/labels.h"

namespace cxr::data {

Dataset Dataset::open(const std::filesystem::path& dir) {
  Dataset d;
  d.cache_ = CacheFile::open(dir / "cache.bin");
  d.rows_ = std::make_shared<const std::vector<ManifestRow>>(
      read_manifest(dir / "manifest.csv", d.cache_->info().num_classes));
  CXR_CHECK(d.rows_->size() == d.cache_->info().count, "dataset {}: manifest.csv has {} rows, cache.bin {} images",
            dir.string(), d.rows_->size(), d.cache_->info().count);
  return d;
}

const std::vector<std::string>& Dataset::class_names() const { return data::class_names(num_classes()); }

std::vector<std::int64_t> Dataset::indices(Split split) const {
  std::vector<std::int64_t> out;
  for (const auto& r : *rows_)
    if (r.split == split) out.push_back(r.id);
  return out;
}

}  // namespace cxr::data
