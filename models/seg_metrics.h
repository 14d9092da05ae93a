// Overlap metrics of segmentation: Dice (F1 of the pixels) and IoU (Jaccard), per
// slice and pooled over slices, with percentile-bootstrap intervals over slices.
//
// Per slice: Dice = 2 TP / (2 TP + FP + FN), IoU = TP / (TP + FP + FN); a slice where
// both prediction and truth are empty scores 1 (nothing to find, nothing found).
// Pooled: the same formulas on the counts summed over slices (large lesions weigh
// more). Means over slices weigh every slice alike; Inf-Net reports the mean over slices.
#pragma once

#include <cstdint>
#include <vector>

namespace cxr {

struct OverlapCounts {
  std::int64_t tp = 0, fp = 0, fn = 0;
  double dice() const;
  double iou() const;
};

// Counts of one class over a slice: predicted[i], truth[i] true where pixel i has the class.
OverlapCounts count_overlap(const std::vector<bool>& predicted, const std::vector<bool>& truth);

struct Interval {
  double value = 0, low = 0, high = 0;  // estimate and 95% percentile-bootstrap bounds
};

struct OverlapSummary {
  Interval mean_dice, mean_iou;      // means over slices
  Interval pooled_dice, pooled_iou;  // on summed counts
};

// `resamples` bootstrap draws of the slices with replacement (seeded: deterministic).
OverlapSummary summarize_overlap(const std::vector<OverlapCounts>& slices, int resamples = 2000,
                                 std::uint64_t seed = 1);

}  // namespace cxr
