// A stratified image order for `cxr eval-heatmaps --stratify`: the first image of
// every stratum (e.g. class x source), then the second of each, and so on, so that
// any prefix of the result holds the strata as evenly as their sizes allow (small
// strata are all in early, large ones equally represented).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace cxr {

// `order` rearranged by rounds over the strata (in increasing stratum key order);
// within a stratum, images keep their order in `order`.
std::vector<std::int64_t> stratified_order(const std::vector<std::int64_t>& order,
                                           const std::function<std::int64_t(std::int64_t)>& stratum);

}  // namespace cxr
