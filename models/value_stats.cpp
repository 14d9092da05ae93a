#include "models/value_stats.h"

#include "base/check.h"
#include "base/priority_gate.h"

#include <algorithm>
#include <cmath>

namespace cxr {

namespace {

// The Inside page's inspections run this on a background thread over up to ~10^6
// values at a time; every kYieldBlock values a pass offers the core to predictions
// (base/priority_gate.h; a no-op elsewhere), so none waits for a whole tensor.
constexpr std::size_t kYieldBlock = std::size_t{1} << 14;

template <class F>
void for_each_value(const std::vector<double>& values, F&& f) {
  for (std::size_t begin = 0; begin < values.size(); begin += kYieldBlock) {
    if (begin > 0) yield_to_urgent_work();
    const std::size_t end = std::min(values.size(), begin + kYieldBlock);
    for (std::size_t i = begin; i < end; ++i) f(values[i]);
  }
}

}  // namespace

ValueStats value_stats(const Tensor& t, int bins) {
  CXR_CHECK(bins >= 1, "value_stats: {} histogram bins (expected at least 1)", bins);
  const std::vector<double> values = t.to(Device::cpu()).contiguous().to_vector();
  ValueStats s;
  s.count = static_cast<std::int64_t>(values.size());
  std::int64_t finite = 0, zeros = 0;
  double sum = 0, squares = 0;
  s.min = INFINITY;
  s.max = -INFINITY;
  for_each_value(values, [&](double v) {
    if (!std::isfinite(v)) {
      ++s.nonfinite;
      return;
    }
    ++finite;
    zeros += v == 0.0;
    sum += v;
    squares += v * v;
    s.min = std::min(s.min, v);
    s.max = std::max(s.max, v);
  });
  if (finite == 0) {
    s.min = s.max = 0;
    s.histogram.counts.assign(1, 0);
    return s;
  }
  s.mean = sum / static_cast<double>(finite);
  double deviations = 0;  // a second pass: no cancellation when the mean is large
  for_each_value(values, [&](double v) {
    if (std::isfinite(v)) deviations += (v - s.mean) * (v - s.mean);
  });
  s.std = std::sqrt(deviations / static_cast<double>(finite));
  s.zero_fraction = static_cast<double>(zeros) / static_cast<double>(finite);
  s.norm = std::sqrt(squares);

  Histogram& h = s.histogram;
  h.lo = s.min;
  h.hi = s.max;
  h.counts.assign(s.max > s.min ? static_cast<std::size_t>(bins) : 1, 0);
  const double width = (h.hi - h.lo) / static_cast<double>(h.counts.size());
  for_each_value(values, [&](double v) {
    if (!std::isfinite(v)) return;
    const double position = width > 0 ? std::floor((v - h.lo) / width) : 0.0;
    const auto bin = std::clamp<std::int64_t>(static_cast<std::int64_t>(position), 0,
                                              static_cast<std::int64_t>(h.counts.size()) - 1);
    ++h.counts[static_cast<std::size_t>(bin)];
  });
  return s;
}

}  // namespace cxr
