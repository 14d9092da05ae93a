// Selection from the ieee8023 COVID-19 image data collection (Cohen et al. 2020):
// metadata.csv + images/.
//
// A row is selected when it is an X-ray (modality), a frontal view (PA, AP,
// AP Supine, AP semi erect, AP erect) and its finding has a class in the scheme.
// Findings go through one table (finding_rule) that knows both spellings used over
// the dataset's history: flat ("COVID-19", "Streptococcus") and hierarchical
// ("Pneumonia/Viral/COVID-19", "Pneumonia/Bacterial/Streptococcus"). A finding the
// table does not know is never guessed: the row is skipped as unknown_finding.
// The age comes from the `age` column (years); empty or unparsable: unknown.
#pragma once

#include "data/labels.h"
#include "data/records.h"

#include <filesystem>
#include <optional>
#include <string_view>

namespace cxr::data {

struct FindingRule {
  enum class Kind : std::uint8_t {
    diagnosis,   // maps to `diagnosis`
    unlabelled,  // not assigned yet upstream ("todo", "Unknown", empty)
    no_class,    // a known finding that is none of our classes (lipoid, ARDS alone, tuberculosis)
  };
  Kind kind = Kind::diagnosis;
  Diagnosis diagnosis = Diagnosis::covid;
};

// The rule for `finding` (case-insensitive, surrounding spaces ignored), or nothing
// when the table does not know it.
std::optional<FindingRule> finding_rule(std::string_view finding);

// The canonical frontal view name ("PA", "AP", "AP Supine", "AP semi erect",
// "AP erect") for a metadata view value, or nothing when it is not frontal.
std::optional<std::string_view> frontal_view(std::string_view view);

// Reads root/metadata.csv and selects rows whose image exists under root.
// Throws cxr::Error when metadata.csv is unreadable or lacks a needed column.
SourceScan select_ieee8023(const std::filesystem::path& root, int num_classes);

}  // namespace cxr::data
