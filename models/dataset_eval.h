// A model applied to the images of a built dataset, preprocessed exactly as
// training and `cxr eval` see them: the model's normalisation, then a bilinear
// resize to its input size when the dataset's images are another size.
#pragma once

#include "data/dataset.h"
#include "models/metrics.h"
#include "models/model_file.h"
#include "models/shortcut_report.h"

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

// The model on images of a dataset: what `cxr eval`, the trainer's model card and
// the web app's fine-tune jobs report, computed in one place.
struct DatasetEvaluation {
  std::vector<double> probabilities;  // row-major [images x classes], as dataset_probabilities
  std::vector<int> targets;           // each image's target: a class or a label set (data/labels.h)
  ClassificationReport report;        // models/metrics.h
  ShortcutReport by_source_and_age;   // models/shortcut_report.h
};

DatasetEvaluation evaluate_on_dataset(ClassifierNet& net, const ModelInfo& info, const data::Dataset& dataset,
                                      std::span<const std::int64_t> indices, int batch = 32,
                                      const std::function<void(std::int64_t done)>& progress = {});

}  // namespace cxr
