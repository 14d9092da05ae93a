// A model applied to the images of a built dataset, preprocessed exactly as
// training and `cxr eval` see them: the model's normalisation, then a bilinear
// resize to its input size when the dataset's images are another size.
#pragma once

#include "engine/data/dataset.h"
#include "models/metrics.h"
#include "models/model_file.h"

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace cxr {

// Softmax probabilities, row-major [indices.size() x classes], in batches of
// `batch`; `progress(done)` after each batch (it may throw to abandon the pass).
std::vector<double> dataset_probabilities(ClassifierNet& net, const ModelInfo& info, const data::Dataset& dataset,
                                          std::span<const std::int64_t> indices, int batch = 32,
                                          const std::function<void(std::int64_t done)>& progress = {});

// The classification report (models/metrics.h) of the model on those images.
ClassificationReport evaluate_on_dataset(ClassifierNet& net, const ModelInfo& info, const data::Dataset& dataset,
                                         std::span<const std::int64_t> indices, int batch = 32,
                                         const std::function<void(std::int64_t done)>& progress = {});

}  // namespace cxr
