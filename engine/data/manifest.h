// manifest.csv: one row per cached image, in cache order (row i is image i).
//
//   id,source,source_path,patient,label,split,view,sha256
//   0,ieee8023,images/x.jpeg,ieee8023:2,covid,train,PA,<sha256 of the source file>
//
// `label` is the class name (engine/data/labels.h); the cache header says which
// scheme. Read back by the loader, so this file is the one place labels live.
#pragma once

#include "engine/data/records.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace cxr::data {

struct ManifestRow {
  std::int64_t id = 0;
  Source source = Source::ieee8023;
  std::string source_path;
  std::string patient;
  int label = 0;
  Split split = Split::train;
  std::string view;
  std::string sha256;
};

void write_manifest(const std::filesystem::path& path, const std::vector<ManifestRow>& rows, int num_classes);

// Throws cxr::Error on any malformed row: a manifest is machine-written, so a bad
// row means the file was damaged and nothing in it can be trusted.
std::vector<ManifestRow> read_manifest(const std::filesystem::path& path, int num_classes);

}  // namespace cxr::data
