#include "models/ood_fit.h"

#include "data/labels.h"
#include "engine/data/sha256.h"
#include "models/metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace cxr {

double calibration_error(std::span<const double> logits, std::span<const int> targets, int k, double temperature) {
  std::vector<double> probabilities;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const auto p = softmax_at(logits.subspan(i * k, k), temperature);
    probabilities.insert(probabilities.end(), p.begin(), p.end());
  }
  const auto scored_as = resolve_targets(probabilities, targets, k);
  const auto predicted = predictions_from(probabilities, k);
  std::vector<double> confidence;
  std::vector<bool> correct;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    confidence.push_back(probabilities[i * k + predicted[i]]);
    correct.push_back(predicted[i] == scored_as[i]);
  }
  return expected_calibration_error(confidence, correct);
}

namespace {

// The lowest common order statistic k of the parts' validation scores at which all
// parts together accept at least accept_rate of the images: limit_p = k-th smallest
// of part p.
void fit_limits(OodGate& gate, const std::array<std::vector<double>, kOodScores.size()>& scores, double accept_rate) {
  const auto parts = gate.parts();
  const std::size_t n = scores[0].size();
  std::array<std::vector<double>, kOodScores.size()> sorted = scores;
  for (auto& v : sorted) std::sort(v.begin(), v.end());
  const auto needed = static_cast<std::size_t>(std::ceil(accept_rate * static_cast<double>(n) - 1e-9));
  for (std::size_t k = std::max<std::size_t>(needed, 1); k <= n; ++k) {
    for (OodScore p : parts) gate.limits[static_cast<std::size_t>(p)] = sorted[static_cast<std::size_t>(p)][k - 1];
    std::size_t accepted = 0;
    for (std::size_t i = 0; i < n; ++i) {
      bool all = true;
      for (OodScore p : parts) all = all && scores[static_cast<std::size_t>(p)][i] <= gate.limit(p);
      accepted += all;
    }
    if (accepted >= needed) return;
  }
}

}  // namespace

void calibrate_thresholds(OodGate& gate, const ModelOutputs& val, double accept_rate) {
  CXR_CHECK(val.size() > 0, "OOD thresholds: no validation images");
  gate.thresholds.fill(1.0);
  gate.limits.fill(1.0);
  for (int pass = 0; pass < 2; ++pass) {  // combined divides by the limits: it comes second
    std::array<std::vector<double>, kOodScores.size()> scores;
    for (std::int64_t i = 0; i < val.size(); ++i) {
      const OodScores s = gate.scores(val, i);
      for (std::size_t j = 0; j < kOodScores.size(); ++j) scores[j].push_back(s.values[j]);
    }
    if (pass == 0) fit_limits(gate, scores, accept_rate);
    for (std::size_t j = 0; j < kOodScores.size(); ++j)
      if ((kOodScores[j] == OodScore::combined) == (pass == 1))
        gate.thresholds[j] = acceptance_threshold(scores[j], accept_rate);
  }
}

std::vector<double> view_rows(const ModelOutputs& out, std::span<const std::int64_t> rows) {
  std::vector<double> values;
  for (auto i : rows) {
    const auto row = view_inputs(out, i);
    values.insert(values.end(), row.begin(), row.end());
  }
  return values;
}

OodFitResult fit_ood_gate(LoadedModel& model, const std::string& model_path, const data::Dataset& dataset,
                          const OodFitOptions& options,
                          const std::function<void(const char*, std::int64_t, std::int64_t)>& progress) {
  const auto train = dataset.indices(data::Split::train);
  const auto val = dataset.indices(data::Split::val);
  CXR_CHECK(!train.empty() && !val.empty(), "OOD gate: the dataset needs train and val images ({} and {})",
            train.size(), val.size());
  auto report = [&](const char* stage, std::int64_t total) {
    return [&progress, stage, total](std::int64_t done) {
      if (progress) progress(stage, done, total);
    };
  };
  const ModelOutputs train_out = dataset_outputs(*model.net, model.info, dataset, train, options.batch,
                                                 report("train features", static_cast<std::int64_t>(train.size())));
  const ModelOutputs val_out = dataset_outputs(*model.net, model.info, dataset, val, options.batch,
                                               report("val features", static_cast<std::int64_t>(val.size())));
  const int k = train_out.classes;
  const int num_targets = data::num_targets(dataset.num_classes());

  // One mean per target that has training images (a label set such as NIH pneumonia
  // is a cluster of its own); targets without images are left out.
  std::vector<int> label_of(num_targets, -1), labels;
  for (auto i : train) label_of[dataset.row(i).label] = 0;
  int classes = 0;
  for (int& l : label_of)
    if (l == 0) l = classes++;
  for (auto i : train) labels.push_back(label_of[dataset.row(i).label]);

  OodFitResult r;
  OodGate& g = r.gate;
  g.mahalanobis = fit_mahalanobis(train_out.pooled, labels, classes);
  g.thumbnail = fit_mahalanobis(train_out.thumbnail, labels, classes);
  g.statistics = fit_mahalanobis(g.statistics_input(train_out.statistics), labels, classes);
  if (options.laterals.size() > 0) {
    std::vector<std::int64_t> all_laterals(static_cast<std::size_t>(options.laterals.size()));
    std::iota(all_laterals.begin(), all_laterals.end(), 0);
    g.view =
        fit_view_probe(view_rows(train_out, view_probe_frontals(train_out.size())),
                       view_rows(options.laterals, all_laterals), train_out.features + kThumbnailSide * kThumbnailSide);
  }
  g.decides = options.decides;
  g.accept_rate = options.accept_rate;
  g.fit_images = static_cast<std::int64_t>(train.size());
  g.calibration_images = static_cast<std::int64_t>(val.size());
  g.model_sha256 = data::file_sha256(model_path);
  calibrate_thresholds(g, val_out, options.accept_rate);

  std::vector<std::uint32_t> allowed;
  std::vector<int> targets;
  for (auto i : val) {
    targets.push_back(dataset.row(i).label);
    allowed.push_back(data::target_classes(dataset.row(i).label, dataset.num_classes()));
  }
  r.temperature = fit_temperature(val_out.logits, allowed, k);
  g.temperature = r.temperature.temperature;
  r.val_ece_before = calibration_error(val_out.logits, targets, k, 1.0);
  r.val_ece_after = calibration_error(val_out.logits, targets, k, g.temperature);
  return r;
}

}  // namespace cxr
