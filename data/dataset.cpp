#include "data/dataset.h"

#include "base/check.h"
#include "data/labels.h"
#include "engine/data/sha256.h"

#include <boost/json.hpp>

#include <fstream>
#include <iterator>

namespace cxr::data {

namespace {

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  CXR_CHECK(in, "cannot read '{}'", path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// settings.fit of stats.json; a dataset without one (older builds, hand-made test
// fixtures) was padded, the builder's default.
Fit fit_from_stats(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) return Fit::pad;
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(read_bytes(path), ec);
  CXR_CHECK(!ec && v.is_object(), "{}: not a JSON object ({})", path.string(), ec.message());
  const auto* settings = v.as_object().if_contains("settings");
  const auto* fit = settings != nullptr && settings->is_object() ? settings->as_object().if_contains("fit") : nullptr;
  if (fit == nullptr) return Fit::pad;
  CXR_CHECK(fit->is_string(), "{}: settings.fit is not a string", path.string());
  const auto parsed = parse_fit(std::string_view(fit->as_string()));
  CXR_CHECK(parsed.has_value(), "{}: settings.fit is '{}', expected pad or crop", path.string(),
            std::string_view(fit->as_string()));
  return *parsed;
}

}  // namespace

Dataset Dataset::open(const std::filesystem::path& dir) {
  Dataset d;
  d.cache_ = CacheFile::open(dir / "cache.bin");
  d.rows_ = std::make_shared<const std::vector<ManifestRow>>(
      read_manifest(dir / "manifest.csv", d.cache_->info().num_classes));
  CXR_CHECK(d.rows_->size() == d.cache_->info().count, "dataset {}: manifest.csv has {} rows, cache.bin {} images",
            dir.string(), d.rows_->size(), d.cache_->info().count);
  const std::string manifest = read_bytes(dir / "manifest.csv");
  d.manifest_sha256_ = to_hex(sha256({reinterpret_cast<const std::uint8_t*>(manifest.data()), manifest.size()}));
  d.fit_ = fit_from_stats(dir / "stats.json");
  return d;
}

Dataset Dataset::concat(const Dataset& a, const Dataset& b) {
  CXR_CHECK(!a.second_ && !b.second_, "dataset concat: the parts must not be concatenations themselves");
  CXR_CHECK(a.image_size() == b.image_size() && a.num_classes() == b.num_classes() && a.fit_ == b.fit_,
            "dataset concat: {}x{} images, {} classes, {} fit vs {}x{}, {}, {}", a.image_size(), a.image_size(),
            a.num_classes(), fit_name(a.fit_), b.image_size(), b.image_size(), b.num_classes(), fit_name(b.fit_));
  Dataset d = a;
  auto rows = std::make_shared<std::vector<ManifestRow>>(*a.rows_);
  for (ManifestRow r : *b.rows_) {
    r.id += a.size();
    rows->push_back(std::move(r));
  }
  d.rows_ = std::move(rows);
  d.second_ = b.cache_;
  d.second_from_ = a.size();
  const std::string both = a.manifest_sha256_ + b.manifest_sha256_;
  d.manifest_sha256_ = to_hex(sha256({reinterpret_cast<const std::uint8_t*>(both.data()), both.size()}));
  return d;
}

const std::vector<std::string>& Dataset::class_names() const {
  return data::class_names(num_classes());
}
int Dataset::num_targets() const {
  return data::num_targets(num_classes());
}
const std::vector<std::string>& Dataset::target_names() const {
  return data::target_names(num_classes());
}

std::vector<std::int64_t> Dataset::indices(Split split) const {
  std::vector<std::int64_t> out;
  for (const auto& r : *rows_)
    if (r.split == split) out.push_back(r.id);
  return out;
}

}  // namespace cxr::data
