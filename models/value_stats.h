// Summary statistics of a tensor's values, as a learner reads them off one layer:
// mean, standard deviation, extremes, the fraction of values that are exactly zero
// (after a ReLU: the units that did not fire), the L2 norm and an equal-width
// histogram. Everything is accumulated in float64 from a host copy of the tensor.
#pragma once

#include "engine/tensor.h"

#include <cstdint>
#include <vector>

namespace cxr {

// counts[i] holds the values in [lo + i * width, lo + (i + 1) * width), the last bin
// also its upper edge, width = (hi - lo) / counts.size(); lo = min and hi = max of
// the finite values. One bin when every finite value is the same (or none is).
struct Histogram {
  double lo = 0, hi = 0;
  std::vector<std::int64_t> counts;
};

// Over the finite values; `nonfinite` counts the NaN and infinite ones (an exploding
// gradient shows there, not as a NaN mean). All zero when no value is finite.
struct ValueStats {
  std::int64_t count = 0;      // every value, finite or not
  std::int64_t nonfinite = 0;  // NaN or +-inf
  double mean = 0;
  double std = 0;  // population standard deviation (divides by the finite count)
  double min = 0, max = 0;
  double zero_fraction = 0;  // values exactly 0, over all finite values
  double norm = 0;           // sqrt(sum of squares)
  Histogram histogram;
};

// t: any float dtype, any device, any shape (a 0-element tensor gives all zeros).
// bins >= 1.
ValueStats value_stats(const Tensor& t, int bins = 32);

}  // namespace cxr
