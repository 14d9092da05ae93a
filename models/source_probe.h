// How visible is the hospital to a model? A linear probe (Alain & Bengio 2016): a
// multinomial logistic regression trained on a model's frozen pooled features to
// predict where an image comes from (ieee8023, Kermany, NIH). If a linear read-out
// recovers the source far above chance, the features encode it, and the classifier
// on top can use it as a shortcut.
//
// The probe: features standardised with the training images' mean and deviation,
// class-balanced cross-entropy (every source weighs the same however many images it
// has), a small weight decay, full-batch AdamW in float64 for a fixed number of
// steps from zero weights (deterministic). Held-out accuracy is reported next to
// chance (always answering the most common held-out source), and balanced accuracy
// (the mean per-source recall) next to its chance, 1 / sources.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace cxr {

struct ProbeResult {
  std::vector<std::string> classes;  // the sources, in label order
  std::int64_t train_images = 0, test_images = 0;
  int features = 0;
  double accuracy = 0, chance_accuracy = 0;
  double balanced_accuracy = 0, chance_balanced_accuracy = 0;
  std::vector<std::vector<std::int64_t>> confusion;  // held out, rows: true source
};

struct ProbeOptions {
  int steps = 300;
  double lr = 0.05;
  double weight_decay = 1e-3;
};

// train_x: [train_labels.size() x features] row-major; the same for test. Labels index
// `classes`. Every class must have training images.
ProbeResult train_linear_probe(std::span<const double> train_x, std::span<const int> train_labels,
                               std::span<const double> test_x, std::span<const int> test_labels,
                               const std::vector<std::string>& classes, const ProbeOptions& options = {});

std::string format_probe(const ProbeResult& probe);
boost::json::object probe_to_json(const ProbeResult& probe);

}  // namespace cxr
