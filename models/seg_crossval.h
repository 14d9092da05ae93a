// k-fold cross-validation of the CT U-Net over a set of labelled slices: each slice
// is scored once, by the model trained on the other folds, and the per-slice scores
// of all folds are summarised together (models/seg_metrics.h). The dataset's README
// asks for it beside the given split: 98 slices is small, and one split's score
// depends on which slices it holds. Without patient ids, neighbouring slices of one
// patient can still fall into different folds, so the scores stay optimistic.
#pragma once

#include "models/seg_model.h"

#include <functional>
#include <vector>

namespace cxr {

// After each epoch of each fold: the fold (0-based), the epoch (1-based), its loss.
using SegFoldProgress = std::function<void(int fold, int epoch, double loss)>;

// Slices are dealt to `folds` folds in a random order drawn from `split_seed`; every
// fold trains a fresh model with `options` (and its seed). The result's per_slice
// rows hold every slice once, slice_ids saying which.
SegEvaluation cross_validate_seg(const std::vector<SegSlice>& slices, SegTask task, const SegNetConfig& config,
                                 const SegTrainOptions& options, int folds, std::uint64_t split_seed,
                                 const SegFoldProgress& progress = {});

}  // namespace cxr
