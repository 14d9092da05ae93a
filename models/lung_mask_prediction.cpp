#include "models/lung_mask_prediction.h"

#include "base/check.h"
#include "models/lung_seg_data.h"

#include <algorithm>

namespace cxr {

std::vector<std::uint8_t> predict_lung_map(SegModel& model, const data::Dataset& dataset, std::int64_t index,
                                           int map_size) {
  CXR_CHECK(index >= 0 && index < dataset.size(), "predict_lung_map: image {} of {}", index, dataset.size());
  const int square = dataset.image_size();
  const std::uint8_t* pixels = dataset.pixels(index);
  const data::GreyImage image{square, square,
                              std::vector<std::uint8_t>(pixels, pixels + static_cast<std::size_t>(square) * square)};
  SegPrediction lungs = predict_seg(model, image);
  std::transform(lungs.labels.begin(), lungs.labels.end(), lungs.labels.begin(),
                 [](std::uint8_t label) { return static_cast<std::uint8_t>(label > 0 ? 255 : 0); });
  return resize_mask({square, square, std::move(lungs.labels)}, map_size, map_size);
}

void add_predicted_lung_masks(LungFields& fields, SegModel& model, const data::Dataset& dataset,
                              std::span<const std::int64_t> indices, int map_size) {
  CXR_CHECK(model.task == SegTask::lung_fields, "the lung masks need a lung-fields segmenter, not a {} one",
            seg_task_name(model.task));
  for (const std::int64_t i : indices)
    if (!fields.annotated(i)) fields.set_predicted(i, predict_lung_map(model, dataset, i, map_size));
}

}  // namespace cxr
