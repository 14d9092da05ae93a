// The CT segmentation model: a SegNet with its parameters, what it was trained for,
// training (BCE + soft Dice, AdamW, cosine schedule), prediction at a slice's own
// size and evaluation on labelled slices, on the device of its parameters (move them
// with model.params->to(device) before training or predicting; batches follow).
//
// Loss: binary cross-entropy on the logits plus the soft Dice loss of their sigmoid,
// per output channel: BCE gives every pixel a gradient from the first step, Dice
// counters the imbalance (infection covers a median 11% of a slice).
//
// Model file: a safetensors checkpoint (engine/io/checkpoint.h) of the SegNet with
// metadata format=cxr-seg, task, input_size, widths.
#pragma once

#include "engine/nn/module.h"
#include "models/seg_data.h"
#include "models/seg_metrics.h"
#include "models/seg_net.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace cxr {

struct SegModel {
  SegTask task = SegTask::infection;
  std::unique_ptr<SegNet> net;
  std::unique_ptr<ParameterSet> params;
};

// A fresh model, Kaiming-initialised from `seed`. config.classes is set from the task.
SegModel make_seg_model(SegTask task, SegNetConfig config, std::uint64_t seed);
void save_seg_model(const std::string& path, SegModel& model);
SegModel load_seg_model(const std::string& path);

struct SegTrainOptions {
  int epochs = 60;
  int batch_size = 8;
  double lr = 3e-3;
  double weight_decay = 1e-4;
  std::uint64_t seed = 1;  // shuffling and augmentation
  bool augment = true;
};
// After each epoch: its number (1-based), the mean loss over its batches.
using SegProgress = std::function<void(int epoch, double loss)>;
void train_seg(SegModel& model, const std::vector<SegSlice>& train, const SegTrainOptions& options,
               const SegProgress& progress = {});

// Per pixel of the slice (width x height): 0 background, else the 1-based class
// (infection: 1; multiclass: 1 ground-glass, 2 consolidation). Probabilities are
// resampled to the slice's size before the 0.5 threshold; a multi-class pixel takes
// its likelier class.
struct SegPrediction {
  int width = 0, height = 0;
  std::vector<std::uint8_t> labels;
  std::vector<double> area_fraction;  // per class: its share of the slice's pixels
};
SegPrediction predict_seg(SegModel& model, const data::GreyImage& image);

// Overlap per class on labelled slices; for the multi-class task a last row scores
// the union of both classes against the infection mask.
struct SegEvaluation {
  std::vector<std::string> names;                     // one per row
  std::vector<std::vector<OverlapCounts>> per_slice;  // [row][slice]
  std::vector<OverlapSummary> summaries;              // [row]
  std::vector<std::string> slice_ids;
};
SegEvaluation evaluate_seg(SegModel& model, const std::vector<SegSlice>& slices);

}  // namespace cxr
