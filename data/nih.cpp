#include "data/nih.h"

#include "base/check.h"
#include "data/ieee8023.h"
#include "data/labels.h"
#include "engine/data/csv.h"
#include "engine/data/text.h"

#include <map>

namespace cxr::data {

namespace {

std::optional<Diagnosis> diagnosis_of(std::string_view label) {
  const std::string l = lower(trim(label));
  if (l == "normal") return Diagnosis::normal;
  if (l == "pneumonia") return Diagnosis::pneumonia_unspecified;  // no organism given
  return std::nullopt;
}

}  // namespace

SourceScan scan_nih(const std::filesystem::path& dir, int num_classes) {
  const auto metadata = dir / "metadata.csv";
  const CsvTable table = read_csv(metadata);
  auto need = [&](std::string_view name) {
    const int c = table.column(name);
    CXR_CHECK(c >= 0, "nih: {} has no '{}' column", metadata.string(), name);
    return c;
  };
  const int c_image = need("image"), c_patient = need("patient_id"), c_age = need("age"), c_view = need("view"),
            c_label = need("label");

  SourceScan scan;
  for (const auto& issue : table.issues)
    scan.skipped.push_back(
        {Source::nih, fmt::format("metadata.csv line {}", issue.line), "malformed_csv_row", issue.message});

  struct Taken {
    std::size_t candidate;  // index into scan.candidates
    std::int64_t line;
  };
  std::map<std::string, Taken> taken;  // image -> the row that took it
  std::vector<bool> conflicting;       // per candidate: another row gives the image another target
  for (const auto& row : table.rows) {
    const auto& f = row.fields;
    const std::string image(trim(f[c_image]));
    const std::string item = fmt::format("metadata.csv line {} ({})", row.line, image);
    auto exclude = [&](std::string reason, std::string detail) {
      scan.excluded.push_back({Source::nih, item, std::move(reason), std::move(detail)});
    };
    auto skip = [&](std::string reason, std::string detail) {
      scan.skipped.push_back({Source::nih, item, std::move(reason), std::move(detail)});
    };

    const auto view = frontal_view(f[c_view]);
    if (!view) {
      const auto v = trim(f[c_view]);
      if (v.empty()) {
        exclude("view_not_recorded", "the view column is empty");
      } else {
        exclude("not_frontal", fmt::format("view '{}'", v));
      }
      continue;
    }
    const auto diagnosis = diagnosis_of(f[c_label]);
    if (!diagnosis) {
      skip("unknown_label", fmt::format("label '{}' is neither normal nor pneumonia", f[c_label]));
      continue;
    }
    const std::string patient(trim(f[c_patient]));
    if (patient.empty()) {
      skip("missing_patient_id", "the patient_id column is empty");
      continue;
    }
    if (!safe_file_name(image)) {
      skip("invalid_file_name", fmt::format("'{}' is not a plain file name", image));
      continue;
    }
    const int label = *target_of(*diagnosis, num_classes);
    const std::string patient_key = "nih:" + patient;
    if (auto it = taken.find(image); it != taken.end()) {  // the image is taken once, by its first row
      const Candidate& first = scan.candidates[it->second.candidate];
      scan.same_patient.emplace_back(first.patient, patient_key);
      if (first.label != label) conflicting[it->second.candidate] = true;
      skip("duplicate_metadata_row", fmt::format("same image as metadata.csv line {}{}", it->second.line,
                                                 first.label != label ? ", with another label" : ""));
      continue;
    }
    const auto file = dir / "images" / image;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
      skip("missing_image", fmt::format("{} does not exist", file.string()));
      continue;
    }
    taken.emplace(image, Taken{scan.candidates.size(), row.line});
    conflicting.push_back(false);
    const auto age = parse_age_years(f[c_age]);
    scan.candidates.push_back(
        {Source::nih, "images/" + image, file, patient_key, label, std::string(*view), {}, age, age_group_of(age)});
  }

  // An image that rows give different labels has no trustworthy label.
  std::vector<Candidate> kept;
  for (std::size_t i = 0; i < scan.candidates.size(); ++i) {
    if (conflicting[i]) {
      scan.skipped.push_back({Source::nih, scan.candidates[i].source_path, "conflicting_labels",
                              "metadata.csv rows give this image different labels"});
    } else {
      kept.push_back(std::move(scan.candidates[i]));
    }
  }
  scan.candidates = std::move(kept);
  return scan;
}

}  // namespace cxr::data
