#include "models/lung_seg_data.h"

#include "base/check.h"
#include "engine/data/csv.h"

#include <algorithm>
#include <map>

namespace cxr {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kMaskSuffix = "_mask";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// metadata.csv's images by file stem: the path under covid_dir and every patient
// listed with it (one file can appear under two patient ids).
struct MetadataImage {
  fs::path path;
  std::vector<std::string> patients;
};

std::map<std::string, MetadataImage> images_by_stem(const fs::path& covid_dir) {
  const data::CsvTable table = data::read_csv(covid_dir / "metadata.csv");
  const int c_patient = table.column("patientid"), c_filename = table.column("filename");
  const int c_folder = table.column("folder");
  CXR_CHECK(c_patient >= 0 && c_filename >= 0, "{}: needs the columns patientid and filename",
            (covid_dir / "metadata.csv").string());
  std::map<std::string, MetadataImage> images;
  for (const data::CsvRow& row : table.rows) {
    const std::string filename(trim(row.fields[c_filename]));
    const std::string patient(trim(row.fields[c_patient]));
    if (filename.empty() || patient.empty()) continue;
    const std::string folder = c_folder >= 0 && !trim(row.fields[c_folder]).empty()
                                   ? std::string(trim(row.fields[c_folder]))
                                   : std::string("images");
    MetadataImage& image = images[fs::path(filename).stem().string()];
    image.path = covid_dir / folder / filename;
    const std::string key = "ieee8023:" + patient;
    if (std::find(image.patients.begin(), image.patients.end(), key) == image.patients.end())
      image.patients.push_back(key);
  }
  return images;
}

}  // namespace

LungMaskPairs find_lung_mask_pairs(const fs::path& covid_dir, const std::vector<data::ManifestRow>& classifier,
                                   const data::SplitFractions& fractions, std::uint64_t seed) {
  const fs::path masks = covid_dir / "annotations" / "lungVAE-masks";
  CXR_CHECK(fs::is_directory(masks), "{} is not a directory: expected the ieee8023 folder with its annotations",
            masks.string());
  const std::map<std::string, MetadataImage> images = images_by_stem(covid_dir);
  std::map<std::string, data::Split> classifier_split;
  for (const data::ManifestRow& row : classifier) classifier_split.emplace(row.patient, row.split);

  LungMaskPairs found;
  std::vector<LungMaskPair>& pairs = found.pairs;
  std::vector<std::pair<std::string, std::string>> same_patient;
  for (const auto& entry : fs::directory_iterator(masks)) {
    std::string stem = entry.path().stem().string();
    if (stem.ends_with(".png")) stem.resize(stem.size() - 4);  // a few upstream files are <name>_mask.png.png
    if (entry.path().extension() != ".png" || !stem.ends_with(kMaskSuffix)) continue;
    const std::string id = stem.substr(0, stem.size() - kMaskSuffix.size());
    const auto it = images.find(id);
    if (it == images.end() || !fs::exists(it->second.path)) {
      found.no_image.push_back(id);
      continue;
    }
    pairs.push_back({id, it->second.patients.front(), it->second.path, entry.path()});
    for (std::size_t k = 1; k < it->second.patients.size(); ++k)
      same_patient.emplace_back(it->second.patients.front(), it->second.patients[k]);
  }
  CXR_CHECK(!pairs.empty(), "{} holds no <name>_mask.png file with its image", masks.string());
  std::sort(found.no_image.begin(), found.no_image.end());
  std::sort(pairs.begin(), pairs.end(), [](const auto& a, const auto& b) { return a.id < b.id; });

  std::vector<data::SplitItem> items;
  for (const LungMaskPair& pair : pairs) {
    data::SplitItem item{pair.patient, 0, std::nullopt};
    if (const auto known = classifier_split.find(pair.patient); known != classifier_split.end())
      item.fixed = known->second;
    items.push_back(item);
  }
  const std::vector<data::Split> splits = data::assign_splits(items, same_patient, {fractions}, seed);
  for (std::size_t i = 0; i < pairs.size(); ++i) pairs[i].split = splits[i];
  return found;
}

std::vector<std::uint8_t> resize_mask(const data::GreyImage& mask, int width, int height) {
  CXR_CHECK(mask.width >= 1 && mask.height >= 1 && width >= 1 && height >= 1, "resize_mask: {}x{} to {}x{}", mask.width,
            mask.height, width, height);
  std::vector<std::uint8_t> out(static_cast<std::size_t>(width) * height);
  for (int y = 0; y < height; ++y) {
    const int my = std::min(mask.height - 1, static_cast<int>((y + 0.5) * mask.height / height));
    for (int x = 0; x < width; ++x) {
      const int mx = std::min(mask.width - 1, static_cast<int>((x + 0.5) * mask.width / width));
      out[static_cast<std::size_t>(y) * width + x] = mask.pixels[static_cast<std::size_t>(my) * mask.width + mx] >= 128;
    }
  }
  return out;
}

SegSlice load_lung_slice(const LungMaskPair& pair) {
  SegSlice slice;
  slice.id = pair.id;
  slice.image = read_grey_image(pair.image);
  slice.labels = resize_mask(read_grey_image(pair.mask), slice.image.width, slice.image.height);
  return slice;
}

}  // namespace cxr
