#include "models/seg_metrics.h"

#include "base/check.h"
#include "engine/random.h"

#include <algorithm>
#include <array>

namespace cxr {

double OverlapCounts::dice() const {
  const std::int64_t denominator = 2 * tp + fp + fn;
  return denominator == 0 ? 1.0 : 2.0 * static_cast<double>(tp) / static_cast<double>(denominator);
}

double OverlapCounts::iou() const {
  const std::int64_t denominator = tp + fp + fn;
  return denominator == 0 ? 1.0 : static_cast<double>(tp) / static_cast<double>(denominator);
}

OverlapCounts count_overlap(const std::vector<bool>& predicted, const std::vector<bool>& truth) {
  CXR_CHECK(predicted.size() == truth.size(), "count_overlap: {} predicted pixels, {} true ones", predicted.size(),
            truth.size());
  OverlapCounts c;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    c.tp += predicted[i] && truth[i];
    c.fp += predicted[i] && !truth[i];
    c.fn += !predicted[i] && truth[i];
  }
  return c;
}

namespace {

// mean Dice, mean IoU, pooled Dice, pooled IoU of the slices at `picks`.
std::array<double, 4> statistics(const std::vector<OverlapCounts>& slices, const std::vector<std::size_t>& picks) {
  double dice = 0, iou = 0;
  OverlapCounts pooled;
  for (std::size_t i : picks) {
    dice += slices[i].dice();
    iou += slices[i].iou();
    pooled.tp += slices[i].tp;
    pooled.fp += slices[i].fp;
    pooled.fn += slices[i].fn;
  }
  const double n = static_cast<double>(picks.size());
  return {dice / n, iou / n, pooled.dice(), pooled.iou()};
}

double percentile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const double pos = q * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<std::size_t>(pos);
  const std::size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (pos - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

}  // namespace

OverlapSummary summarize_overlap(const std::vector<OverlapCounts>& slices, int resamples, std::uint64_t seed) {
  CXR_CHECK(!slices.empty(), "summarize_overlap: no slices");
  CXR_CHECK(resamples >= 1, "summarize_overlap: resamples must be >= 1, got {}", resamples);
  std::vector<std::size_t> all(slices.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  const std::array<double, 4> point = statistics(slices, all);

  Generator gen(seed);
  std::array<std::vector<double>, 4> draws;
  std::vector<std::size_t> picks(slices.size());
  for (int r = 0; r < resamples; ++r) {
    for (std::size_t& p : picks) p = gen.below(slices.size());
    const std::array<double, 4> s = statistics(slices, picks);
    for (int k = 0; k < 4; ++k) draws[k].push_back(s[k]);
  }
  std::array<Interval, 4> out;
  for (int k = 0; k < 4; ++k) out[k] = {point[k], percentile(draws[k], 0.025), percentile(draws[k], 0.975)};
  return {out[0], out[1], out[2], out[3]};
}

}  // namespace cxr
