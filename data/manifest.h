// manifest.csv: one row per cached image, in cache order (row i is image i).
//
//   id,source,source_path,patient,label,split,view,sha256,age,age_group
//   0,ieee8023,images/x.jpeg,ieee8023:2,covid,train,PA,<sha256 of the source file>,55,adult
//
// `label` is the target name (data/labels.h: a class, or a label set such as
// `pneumonia`); the cache header says which scheme. `age` is in years as the source
// gives it, empty when unknown; `age_group` is unknown, child or adult. Read back by
// the loader, so this file is the one place labels live. Manifests written before the
// age columns existed (older datasets, the web app's sample sets) are still read:
// their ages are unknown.
#pragma once

#include "data/records.h"
#include "engine/data/csv.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace cxr::data {

struct ManifestRow {
  std::int64_t id = 0;
  Source source = Source::ieee8023;
  std::string source_path;
  std::string patient;
  int label = 0;  // target index: a class, or a label set (target_classes says which classes)
  Split split = Split::train;
  std::string view;
  std::string sha256;
  std::optional<double> age{};  // years; nothing when unknown
  AgeGroup age_group = AgeGroup::unknown;
};

void write_manifest(const std::filesystem::path& path, const std::vector<ManifestRow>& rows, int num_classes);

// Throws cxr::Error on any malformed row: a manifest is machine-written, so a bad
// row means the file was damaged and nothing in it can be trusted.
std::vector<ManifestRow> read_manifest(const std::filesystem::path& path, int num_classes);
// The same on a table already parsed (engine/data/csv.h); `name` for the messages.
std::vector<ManifestRow> parse_manifest(const CsvTable& table, const std::string& name, int num_classes);

}  // namespace cxr::data
