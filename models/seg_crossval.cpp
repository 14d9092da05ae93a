#include "models/seg_crossval.h"

#include "base/check.h"
#include "engine/random.h"

#include <numeric>

namespace cxr {

SegEvaluation cross_validate_seg(const std::vector<SegSlice>& slices, SegTask task, const SegNetConfig& config,
                                 const SegTrainOptions& options, int folds, std::uint64_t split_seed,
                                 const SegFoldProgress& progress) {
  CXR_CHECK(folds >= 2 && static_cast<std::size_t>(folds) <= slices.size(),
            "cross_validate_seg: {} folds for {} slices (need 2 <= folds <= slices)", folds, slices.size());
  std::vector<std::size_t> order(slices.size());
  std::iota(order.begin(), order.end(), 0);
  Generator gen(split_seed);
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[gen.below(i)]);  // Fisher-Yates

  SegEvaluation all;
  for (int fold = 0; fold < folds; ++fold) {
    std::vector<SegSlice> train, held_out;
    for (std::size_t k = 0; k < order.size(); ++k)
      (static_cast<int>(k % folds) == fold ? held_out : train).push_back(slices[order[k]]);
    SegModel model = make_seg_model(task, config, options.seed);
    train_seg(model, train, options, [&](int epoch, double loss) {
      if (progress) progress(fold, epoch, loss);
    });
    const SegEvaluation e = evaluate_seg(model, held_out);
    if (fold == 0) {
      all.names = e.names;
      all.per_slice.resize(e.names.size());
    }
    all.slice_ids.insert(all.slice_ids.end(), e.slice_ids.begin(), e.slice_ids.end());
    for (std::size_t r = 0; r < e.per_slice.size(); ++r)
      all.per_slice[r].insert(all.per_slice[r].end(), e.per_slice[r].begin(), e.per_slice[r].end());
  }
  for (const auto& rows : all.per_slice) all.summaries.push_back(summarize_overlap(rows));
  return all;
}

}  // namespace cxr
