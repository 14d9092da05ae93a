// What a source scan hands to the dataset build: the images selected for the
// dataset (candidates) and everything left out, with a reason.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cxr::data {

// upload: an image added through the web app (its fine-tune jobs write such manifests).
enum class Source : std::uint8_t { ieee8023, kermany, upload };
enum class Split : std::uint8_t { train, val, test };
inline constexpr Split kSplits[] = {Split::train, Split::val, Split::test};

inline std::string_view source_name(Source s) {
  return s == Source::ieee8023 ? "ieee8023" : s == Source::kermany ? "kermany" : "upload";
}
inline std::string_view split_name(Split s) {
  return s == Split::train ? "train" : s == Split::val ? "val" : "test";
}
inline std::optional<Split> split_from_name(std::string_view name) {
  for (Split s : kSplits)
    if (split_name(s) == name) return s;
  return std::nullopt;
}

struct Candidate {
  Source source = Source::ieee8023;
  std::string source_path;   // relative to the source root, '/'-separated (manifest column)
  std::filesystem::path file;
  std::string patient;       // "ieee8023:<patientid>" or "kermany:<key>", unique across sources
  int label = 0;
  std::string view;          // PA, AP, AP Supine, ...
  std::optional<Split> official_split;  // Kermany's own train/val/test folder
};

// One input left out. `reason` is a stable code (stats.json keys on it).
struct Skip {
  Source source = Source::ieee8023;
  std::string item;    // source path, or "metadata.csv line N"
  std::string reason;
  std::string detail;
};

struct SourceScan {
  std::vector<Candidate> candidates;
  std::vector<Skip> excluded;  // left out by the selection rules (lateral, CT, no class in the scheme)
  std::vector<Skip> skipped;   // bad input: missing files, malformed rows, unknown findings, ...
  // Patients that must share a split: they reference the same image file.
  std::vector<std::pair<std::string, std::string>> same_patient;
};

}  // namespace cxr::data
