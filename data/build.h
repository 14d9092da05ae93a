// `cxr data build`: from the source trees (ieee8023, Kermany, NIH) to a dataset directory
//
//   out/cache.bin     every image, preprocessed to size x size grey uint8 (cache_file.h)
//   out/manifest.csv  one row per image, in cache order (manifest.h)
//   out/stats.json    counts, patients, views, what was left out and why (stats.h)
//
// Steps: select ieee8023 rows, scan the Kermany tree and the NIH share (nothing is read twice);
// decode, hash and resize every candidate on worker threads into a staging file;
// drop exact duplicates (same decoded pixels) keeping the first copy, and tie the
// patients of copies together; split by patient, stratified by source x target
// (split.h); write the three files.
// Everything is written into a hidden sibling directory that is renamed to `out`
// only when complete, so `out` never holds a partial dataset.
#pragma once

#include "data/split.h"
#include "data/stats.h"
#include "engine/data/image.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string_view>

namespace cxr::data {

struct BuildOptions {
  std::filesystem::path covid_dir;    // ieee8023 root (metadata.csv, images/); empty: not used
  std::filesystem::path kermany_dir;  // the chest_xray folder; empty: not used
  std::filesystem::path nih_dir;      // the NIH ChestX-ray14 share (metadata.csv, images/); empty: not used
  std::filesystem::path out_dir;
  int size = 224;
  int num_classes = 4;
  SplitFractions fractions;
  std::uint64_t seed = 0;
  Fit fit = Fit::pad;
  // Kermany's official test images form (part of) our test split; the rest of
  // Kermany is split train:val in the ratio of `fractions`. Default: pooled.
  bool keep_kermany_test = false;
  bool overwrite = false;  // replace an existing out_dir
  DecodeLimits limits;
  int threads = 0;  // 0: cxr::num_threads()
};

// Called from the building thread about ten times a second while images are
// decoded, and once more when they all are.
using ProgressFn = std::function<void(std::string_view stage, std::int64_t done, std::int64_t total)>;

// Throws cxr::Error for unusable options or sources and for I/O failures on the
// output; bad input images and rows are skipped and reported in the result.
BuildStats build_dataset(const BuildOptions& options, const ProgressFn& progress = {});

}  // namespace cxr::data
