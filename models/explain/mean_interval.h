// The mean of per-image values with a 95% percentile-bootstrap interval (Efron &
// Tibshirani 1993): `resamples` draws of the values with replacement, seeded, so the
// same values and seed give the same interval. `cxr eval-heatmaps` reports its
// measures this way.
#pragma once

#include <cstdint>
#include <vector>

namespace cxr {

struct MeanInterval {
  double mean = 0, low = 0, high = 0;  // low/high: the 2.5th and 97.5th percentiles of the bootstrap means
};

// Throws cxr::Error on no values or resamples < 1.
MeanInterval bootstrap_mean(const std::vector<double>& values, int resamples = 2000, std::uint64_t seed = 1);

}  // namespace cxr
