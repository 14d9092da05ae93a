// What one forward pass gives the out-of-distribution gate and temperature scaling:
// the logits, softmax(logits / T) and the penultimate features (the last layer's
// activation averaged over positions, what the head reads), in float64 on the CPU.
// The softmax is the engine's (float32, on the net's device), so at T = 1 the
// probabilities are exactly those of predict_probabilities (models/inference.h).
// Also the thumbnail: the input image itself (normalised, as the net sees it)
// averaged over a kThumbnailSide x kThumbnailSide grid of cells, the layout of the
// picture that global pooling discards (a lateral view, a gradient); and the input's
// pixel statistics (models/image_statistics.h).
#pragma once

#include "data/dataset.h"
#include "models/classifier_net.h"
#include "models/image_statistics.h"
#include "models/model_file.h"

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace cxr {

inline constexpr int kThumbnailSide = 16;

struct ModelOutputs {
  int classes = 0, features = 0;
  std::vector<double> thumbnail;      // row-major [n x kThumbnailSide^2]
  std::vector<double> logits;         // row-major [n x classes]
  std::vector<double> probabilities;  // softmax(logits / T), row-major [n x classes]
  std::vector<double> pooled;         // row-major [n x features]
  std::vector<double> statistics;     // row-major [n x kImageStatistics]

  std::int64_t size() const { return classes == 0 ? 0 : static_cast<std::int64_t>(logits.size()) / classes; }
  std::span<const double> logits_of(std::int64_t i) const {
    return {logits.data() + i * classes, std::size_t(classes)};
  }
  std::span<const double> probabilities_of(std::int64_t i) const {
    return {probabilities.data() + i * classes, std::size_t(classes)};
  }
  std::span<const double> thumbnail_of(std::int64_t i) const {
    constexpr std::size_t cells = kThumbnailSide * kThumbnailSide;
    return {thumbnail.data() + i * cells, cells};
  }
  std::span<const double> pooled_of(std::int64_t i) const {
    return {pooled.data() + i * features, std::size_t(features)};
  }
  std::span<const double> statistics_of(std::int64_t i) const {
    return {statistics.data() + i * kImageStatistics, std::size_t(kImageStatistics)};
  }
  void append(const ModelOutputs& more);
};

// A batch [N, 1, S, S] (on any device: copied to the net's), evaluation mode, no graph.
ModelOutputs model_outputs(ClassifierNet& net, const Tensor& batch, double temperature = 1.0);

// The images of `indices` of a built dataset, preprocessed as `cxr eval` does
// (models/dataset_eval.h), in batches of `batch`; progress(done) after each.
ModelOutputs dataset_outputs(ClassifierNet& net, const ModelInfo& info, const data::Dataset& dataset,
                             std::span<const std::int64_t> indices, int batch = 32,
                             const std::function<void(std::int64_t done)>& progress = {});

}  // namespace cxr
