#include "models/ood_fit.h"

#include "data/labels.h"
#include "models/metrics.h"

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
  g.decides = options.decides;
  g.accept_rate = options.accept_rate;
  g.fit_images = static_cast<std::int64_t>(train.size());
  g.calibration_images = static_cast<std::int64_t>(val.size());
  g.model_sha256 = file_sha256(model_path);
  // Twice: combined divides by the other thresholds, so its own comes second.
  g.thresholds.fill(1.0);
  for (int pass = 0; pass < 2; ++pass) {
    std::array<std::vector<double>, kOodScores.size()> scores;
    for (std::int64_t i = 0; i < val_out.size(); ++i) {
      const OodScores s = g.scores(val_out, i);
      for (std::size_t j = 0; j < kOodScores.size(); ++j) scores[j].push_back(s.values[j]);
    }
    for (std::size_t j = 0; j < kOodScores.size(); ++j)
      if ((kOodScores[j] == OodScore::combined) == (pass == 1))
        g.thresholds[j] = acceptance_threshold(scores[j], options.accept_rate);
  }

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
