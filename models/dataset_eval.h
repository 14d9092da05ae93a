// A model applied to the images of a built dataset, preprocessed exactly as
// training and `cxr eval` see them: the model's normalisation, then a bilinear
// resize to its input size when the dataset's images are another size.
#pragma once

#include "data/dataset.h"
#include "models/metrics.h"
#include "models/model_file.h"

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace cxr {

// The images of `indices` in batches [n, 1, input, input] on the CPU, preprocessed as
// above; fn gets each batch and how many images are done with it.
void for_each_batch(const ModelInfo& info, const data::Dataset& dataset, std::span<const std::int64_t> indices,
                    int batch, const std::function<void(const Tensor& images, std::size_t done)>& fn);

// Softmax probabilities, row-major [indices.size() x classes], in batches of
// `batch`; `progress(done)` after each batch (it may throw to abandon the pass).
std::vector<double> dataset_probabilities(ClassifierNet& net, const ModelInfo& info, const data::Dataset& dataset,
                                          std::span<const std::int64_t> indices, int batch = 32,
                                          const std::function<void(std::int64_t done)>& progress = {});

// What the head sees: the last layer's activation averaged over positions, row-major
// [indices.size() x channels] (evaluation mode, no graph).
std::vector<double> dataset_features(ClassifierNet& net, const ModelInfo& info, const data::Dataset& dataset,
                                     std::span<const std::int64_t> indices, int batch = 32,
                                     const std::function<void(std::int64_t done)>& progress = {});

// The classification report (models/metrics.h) of the model on those images.
ClassificationReport evaluate_on_dataset(ClassifierNet& net, const ModelInfo& info, const data::Dataset& dataset,
                                         std::span<const std::int64_t> indices, int batch = 32,
                                         const std::function<void(std::int64_t done)>& progress = {});

}  // namespace cxr
