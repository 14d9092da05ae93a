#include "models/lung_view_dataset.h"

#include "base/check.h"
#include "data/dataset.h"
#include "engine/data/cache_file.h"
#include "engine/data/sha256.h"
#include "engine/io/atomic_file.h"
#include "models/dataset_settings.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <cmath>
#include <fstream>
#include <iterator>
#include <vector>

namespace cxr {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

json::object read_stats(const fs::path& path) {
  std::ifstream in(path);
  CXR_CHECK(in.good(), "cannot read {}", path.string());
  boost::system::error_code ec;
  json::value v = json::parse(std::string{std::istreambuf_iterator<char>(in), {}}, ec);
  CXR_CHECK(!ec && v.is_object(), "{}: not a JSON object", path.string());
  return std::move(v.as_object());
}

}  // namespace

LungViewDatasetReport write_lung_view_dataset(const fs::path& in_dir, const fs::path& out_dir, SegModel& segmenter,
                                              const fs::path& segmenter_file, const LungView& view,
                                              const std::function<void(std::int64_t, std::int64_t)>& progress) {
  CXR_CHECK(view.mode != LungViewMode::none, "a lung-view dataset needs a view (crop or mask), not none");
  CXR_CHECK(fs::weakly_canonical(in_dir) != fs::weakly_canonical(out_dir), "the output folder {} is the input",
            out_dir.string());
  if (const auto earlier = dataset_lung_view_metadata(in_dir); !earlier.empty())
    throw Error(fmt::format("{} is already seen through the lung view {}: apply a view to the original build",
                            in_dir.string(), earlier.at("lung_view")));
  const data::Dataset dataset = data::Dataset::open(in_dir);
  json::object stats = read_stats(in_dir / "stats.json");
  const int size = dataset.image_size();
  const auto plane = static_cast<std::size_t>(size) * size;

  // Every view is kept until the train split's statistics, which the header needs, are known.
  LungViewDatasetReport report;
  report.images = dataset.size();
  std::vector<std::uint8_t> pixels(plane * static_cast<std::size_t>(dataset.size()));
  double sum = 0, sum_sq = 0;
  std::int64_t train_pixels = 0;
  for (std::int64_t i = 0; i < dataset.size(); ++i) {
    const std::uint8_t* square = dataset.pixels(i);
    const data::GreyImage fitted{size, size, std::vector<std::uint8_t>(square, square + plane)};
    const LungViewResult r = lung_view_of_square(segmenter, view, fitted);
    report.unchanged += !r.changed;
    std::copy(r.image.pixels.begin(), r.image.pixels.end(), pixels.begin() + static_cast<std::ptrdiff_t>(i * plane));
    if (dataset.row(i).split == data::Split::train) {
      for (std::uint8_t p : r.image.pixels) {
        const double v = p / 255.0;
        sum += v, sum_sq += v * v;
      }
      train_pixels += static_cast<std::int64_t>(plane);
    }
    if (progress) progress(i + 1, dataset.size());
  }
  CXR_CHECK(train_pixels > 0, "{}: no train images", in_dir.string());
  report.mean = static_cast<float>(sum / train_pixels);
  report.stddev = static_cast<float>(std::sqrt(std::max(0.0, sum_sq / train_pixels - std::pow(sum / train_pixels, 2))));

  fs::create_directories(out_dir);
  const fs::path partial = out_dir / "cache.bin.partial";
  data::CacheWriter cache(
      partial, {static_cast<std::uint64_t>(dataset.size()), size, dataset.num_classes(), report.mean, report.stddev});
  for (std::int64_t i = 0; i < dataset.size(); ++i) cache.write(pixels.data() + i * plane);
  cache.close();
  fs::rename(partial, out_dir / "cache.bin");
  fs::copy_file(in_dir / "manifest.csv", out_dir / "manifest.csv", fs::copy_options::overwrite_existing);
  fs::copy_file(segmenter_file, out_dir / kLungModelFile, fs::copy_options::overwrite_existing);
  json::value& settings = stats["settings"];
  if (!settings.is_object()) settings = json::object{};
  settings.as_object()["lung_view"] = view.str();
  settings.as_object()["lung_model"] = {{"file", kLungModelFile},
                                        {"sha256", data::file_sha256(segmenter_file.string())},
                                        {"source_dataset", in_dir.string()}};
  write_file_atomically((out_dir / "stats.json").string(), json::serialize(stats));
  return report;
}

std::map<std::string, std::string> dataset_lung_view_metadata(const fs::path& data_dir) {
  const json::object settings = dataset_build_settings(data_dir);
  const json::value* view = settings.if_contains("lung_view");
  if (view == nullptr || !view->is_string()) return {};
  std::map<std::string, std::string> out{{"lung_view", LungView::parse(std::string(view->as_string())).str()}};
  if (const json::value* model = settings.if_contains("lung_model"); model != nullptr && model->is_object())
    if (const json::value* sha = model->as_object().if_contains("sha256"); sha != nullptr && sha->is_string())
      out["lung_model_sha256"] = std::string(sha->as_string());
  return out;
}

}  // namespace cxr
