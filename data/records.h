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
// nih: the NIH ChestX-ray14 share (data/nih.h).
enum class Source : std::uint8_t { ieee8023, kermany, upload, nih };
inline constexpr Source kSources[] = {Source::ieee8023, Source::kermany, Source::upload, Source::nih};
inline constexpr int kNumSources = 4;  // arrays indexed by static_cast<int>(Source)
// The sources `cxr data build` reads, in the order their images are taken.
inline constexpr Source kBuildSources[] = {Source::ieee8023, Source::kermany, Source::nih};
enum class Split : std::uint8_t { train, val, test };
inline constexpr Split kSplits[] = {Split::train, Split::val, Split::test};

// The patient's age group, a known confounder: in ieee8023 and Kermany every covid
// image is an adult's and nearly every normal or pneumonia image a child's (Kermany's).
// child: under 18 years.
enum class AgeGroup : std::uint8_t { unknown, child, adult };
inline constexpr AgeGroup kAgeGroups[] = {AgeGroup::unknown, AgeGroup::child, AgeGroup::adult};
inline constexpr int kNumAgeGroups = 3;

inline std::string_view source_name(Source s) {
  switch (s) {
    case Source::ieee8023: return "ieee8023";
    case Source::kermany: return "kermany";
    case Source::upload: return "upload";
    case Source::nih: return "nih";
  }
  return "?";
}
inline std::optional<Source> source_from_name(std::string_view name) {
  for (Source s : kSources)
    if (source_name(s) == name) return s;
  return std::nullopt;
}
inline std::string_view split_name(Split s) {
  return s == Split::train ? "train" : s == Split::val ? "val" : "test";
}
inline std::optional<Split> split_from_name(std::string_view name) {
  for (Split s : kSplits)
    if (split_name(s) == name) return s;
  return std::nullopt;
}

inline std::string_view age_group_name(AgeGroup g) {
  return g == AgeGroup::child ? "child" : g == AgeGroup::adult ? "adult" : "unknown";
}
inline std::optional<AgeGroup> age_group_from_name(std::string_view name) {
  for (AgeGroup g : kAgeGroups)
    if (age_group_name(g) == name) return g;
  return std::nullopt;
}
// unknown when the age is.
inline AgeGroup age_group_of(std::optional<double> age_years) {
  if (!age_years) return AgeGroup::unknown;
  return *age_years < 18.0 ? AgeGroup::child : AgeGroup::adult;
}

struct Candidate {
  Source source = Source::ieee8023;
  std::string source_path;  // relative to the source root, '/'-separated (manifest column)
  std::filesystem::path file;
  std::string patient;  // "ieee8023:<patientid>", "kermany:<key>", "nih:<patient_id>": unique across sources
  int label = 0;        // a target index (data/labels.h): a class or a label set
  std::string view;     // PA, AP, AP Supine, ...
  std::optional<Split> official_split;  // Kermany's own train/val/test folder
  std::optional<double> age{};          // years, as the metadata gives it; nothing when absent or unparsable
  AgeGroup age_group = AgeGroup::unknown;
};

// One input left out. `reason` is a stable code (stats.json keys on it).
struct Skip {
  Source source = Source::ieee8023;
  std::string item;  // source path, or "metadata.csv line N"
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
