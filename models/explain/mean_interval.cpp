#include "models/explain/mean_interval.h"

#include "base/check.h"
#include "engine/random.h"

#include <algorithm>

namespace cxr {

namespace {

// Linear interpolation between the closest ranks of sorted values.
double percentile(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(pos);
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

double mean_of(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

}  // namespace

MeanInterval bootstrap_mean(const std::vector<double>& values, int resamples, std::uint64_t seed) {
  CXR_CHECK(!values.empty(), "bootstrap_mean: no values");
  CXR_CHECK(resamples >= 1, "bootstrap_mean: resamples must be >= 1, got {}", resamples);
  Generator gen(seed);
  std::vector<double> means, draw(values.size());
  means.reserve(static_cast<std::size_t>(resamples));
  for (int r = 0; r < resamples; ++r) {
    for (double& d : draw) d = values[gen.below(values.size())];
    means.push_back(mean_of(draw));
  }
  std::sort(means.begin(), means.end());
  return {mean_of(values), percentile(means, 0.025), percentile(means, 0.975)};
}

}  // namespace cxr
