// Fitting the out-of-distribution gate and the temperature of a model on a built
// dataset (`cxr ood fit`): the Mahalanobis statistics on the TRAINING split's pooled
// features, thumbnails and pixel statistics (one mean per target: a class or a label
// set), the view probe on training frontals and the given lateral views (when any),
// then, on the VALIDATION split only, each score's threshold (accepting `accept_rate`
// of it) and the temperature (models/temperature.h). The test split is never read.
#pragma once

#include "data/dataset.h"
#include "models/model_file.h"
#include "models/ood_gate.h"
#include "models/temperature.h"

#include <cstdint>
#include <functional>
#include <string>

namespace cxr {

struct OodFitOptions {
  double accept_rate = 0.995;
  OodScore decides = OodScore::combined;
  int batch = 32;
  ModelOutputs laterals;  // lateral views for the view probe (models/view_probe.h); none: no probe
};

struct OodFitResult {
  OodGate gate;
  TemperatureFit temperature;
  double val_ece_before = 0, val_ece_after = 0;  // 15-bin ECE (models/metrics.h)
};

// progress(stage, done, total) after each batch. The model file's SHA-256 is
// recorded so the gate is never applied to another model.
OodFitResult fit_ood_gate(
    LoadedModel& model, const std::string& model_path, const data::Dataset& dataset, const OodFitOptions& options = {},
    const std::function<void(const char* stage, std::int64_t done, std::int64_t total)>& progress = {});

// Each score's threshold: the value that accepts accept_rate of the validation
// outputs; combined's limits (models/ood_gate.h) and then its threshold.
void calibrate_thresholds(OodGate& gate, const ModelOutputs& val, double accept_rate);

// view_inputs of the given rows of `out`, row-major.
std::vector<double> view_rows(const ModelOutputs& out, std::span<const std::int64_t> rows);

// The 15-bin ECE (models/metrics.h) of softmax(logits / T), logits row-major
// [targets.size() x k], label-set targets resolved as classification_report does.
double calibration_error(std::span<const double> logits, std::span<const int> targets, int k, double temperature);

}  // namespace cxr
