// Lung masks predicted by the chest X-ray lung segmenter (`cxr lungs train`,
// SegTask::lung_fields) for images that have no lung annotation, so the "Grad-CAM
// energy outside the lungs" of children (Kermany) and NIH adults is measured against
// their own lungs rather than the adult ieee8023 prior (models/lung_fields.h).
//
// The segmenter sees the dataset's cached square, which is exactly what the classifier
// sees (after the dataset's fit), so its mask needs no geometry of its own: it is
// resized to the heatmap's square by nearest neighbour.
#pragma once

#include "data/dataset.h"
#include "models/lung_fields.h"
#include "models/seg_model.h"

#include <cstdint>
#include <span>
#include <vector>

namespace cxr {

// The predicted lungs of image `index` on a map_size square (1 inside, 0 outside).
std::vector<std::uint8_t> predict_lung_map(SegModel& model, const data::Dataset& dataset, std::int64_t index,
                                           int map_size);

// Gives every image of `indices` without its own boxes its predicted mask. The model
// must be a lung-fields one (else a cxr::Error naming its task).
void add_predicted_lung_masks(LungFields& fields, SegModel& model, const data::Dataset& dataset,
                              std::span<const std::int64_t> indices, int map_size);

}  // namespace cxr
