// Patient-level, stratified, seeded train/val/test split.
//
// The unit of assignment is a patient; patients linked because they share an
// image (the same file under two patient ids) form one unit, so no patient and
// no image ever appears in two splits. Units are grouped by stratum (the build
// uses source x class) and each stratum is split on its own: its units are
// ordered by patient key, shuffled with a generator seeded from (seed, stratum),
// one unit is dealt to each split with a non-zero fraction (so every class is in
// every split whenever it has enough patients), and every further unit goes to the
// split furthest below its target image count. The result depends only on the
// items, the links, the fractions and the seed.
#pragma once

#include "data/records.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cxr::data {

struct SplitFractions {
  double train = 0.70, val = 0.15, test = 0.15;
  double of(Split s) const { return s == Split::train ? train : s == Split::val ? val : test; }
};

// "70:15:15" (any non-negative numbers, normalised to sum 1; train must be > 0).
SplitFractions parse_split(std::string_view text);

struct SplitItem {
  std::string patient;
  int stratum = 0;             // index into the fractions vector
  std::optional<Split> fixed;  // this item's whole unit goes to this split
};

// One split per item. `fractions[s]` applies to stratum s.
std::vector<Split> assign_splits(const std::vector<SplitItem>& items,
                                 const std::vector<std::pair<std::string, std::string>>& same_patient,
                                 const std::vector<SplitFractions>& fractions, std::uint64_t seed);

}  // namespace cxr::data
