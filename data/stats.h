// What a dataset build did, as numbers: counts per split x target x source and per
// split x source x age group, patients, views, every input left out with its reason,
// duplicates, and the train-split pixel statistics. Written to stats.json and printed
// by `cxr data build`.
#pragma once

#include "data/manifest.h"
#include "data/records.h"
#include "data/split.h"

#include <boost/json/object.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace cxr::data {

inline constexpr int kMaxTargets = 5;  // of any scheme (labels.h)

struct DuplicateGroup {
  std::string kept;                  // source path kept ("" when all copies were dropped)
  std::vector<std::string> removed;  // source paths dropped
  bool conflicting_labels = false;   // copies disagreed on the target: all dropped
};

struct BuildStats {
  // The build's settings, echoed.
  int size = 0;
  int num_classes = 4;
  std::string fit;
  SplitFractions fractions;
  std::uint64_t seed = 0;
  bool keep_kermany_test = false;
  std::string covid_dir, kermany_dir, nih_dir;

  std::int64_t images = 0;
  // Indexed by static_cast<int>(Split), target, static_cast<int>(Source) / AgeGroup.
  std::array<std::array<std::array<std::int64_t, kNumSources>, kMaxTargets>, 3> counts{};  // [split][target][source]
  std::array<std::array<std::array<std::int64_t, kNumAgeGroups>, kNumSources>, 3> ages{};  // [split][source][group]
  std::array<std::array<std::int64_t, kMaxTargets>, 3> patients{};                         // distinct, [split][target]
  std::array<std::int64_t, 3> split_patients{};                                            // distinct, [split]
  std::array<std::map<std::string, std::int64_t>, kNumSources> views;                      // [source] view -> images
  std::vector<Skip> excluded;                                                              // by the selection rules
  std::vector<Skip> skipped;                                                               // bad input
  std::vector<DuplicateGroup> duplicates;
  double pixel_mean = 0.0, pixel_std = 1.0;  // train split, pixels in [0, 1]

  std::int64_t count(Split s, int target, Source src) const {
    return counts[static_cast<int>(s)][target][static_cast<int>(src)];
  }
  std::int64_t count(Split s, int target) const;  // all sources
  std::int64_t count(Split s, Source src, AgeGroup g) const {
    return ages[static_cast<int>(s)][static_cast<int>(src)][static_cast<int>(g)];
  }
  std::int64_t source_images(Source src) const;  // all splits and targets
  std::map<std::string, std::int64_t> excluded_by_reason() const;
  std::map<std::string, std::int64_t> skipped_by_reason() const;
  std::int64_t duplicates_removed() const;
};

// Fills counts, ages, patients, views and `images` from the final manifest rows.
void count_rows(BuildStats& stats, const std::vector<ManifestRow>& rows);

// What stats.json holds (data/dataset_writer.h writes it).
boost::json::object stats_to_json(const BuildStats& stats);

}  // namespace cxr::data
