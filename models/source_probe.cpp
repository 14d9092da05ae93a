#include "models/source_probe.h"

#include "base/check.h"
#include "engine/autograd.h"
#include "engine/nn/layers.h"
#include "engine/nn/module.h"
#include "engine/ops.h"
#include "engine/optim/adamw.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <cmath>

namespace cxr {

namespace {

// Rows of `x` standardised with the given per-feature mean and deviation, as a tensor.
Tensor standardised(std::span<const double> x, std::int64_t rows, int features, const std::vector<double>& mean,
                    const std::vector<double>& stddev) {
  Tensor t = Tensor::empty({rows, features}, DType::F64);
  double* out = t.data<double>();
  for (std::int64_t i = 0; i < rows; ++i)
    for (int f = 0; f < features; ++f) out[i * features + f] = (x[i * features + f] - mean[f]) / stddev[f];
  return t;
}

}  // namespace

ProbeResult train_linear_probe(std::span<const double> train_x, std::span<const int> train_labels,
                               std::span<const double> test_x, std::span<const int> test_labels,
                               const std::vector<std::string>& classes, const ProbeOptions& options) {
  const int k = static_cast<int>(classes.size());
  const auto n = static_cast<std::int64_t>(train_labels.size());
  const auto m = static_cast<std::int64_t>(test_labels.size());
  CXR_CHECK(k >= 2 && n > 0 && m > 0, "linear probe: needs two classes and images to train and test on ({}, {}, {})", k,
            n, m);
  CXR_CHECK(train_x.size() % train_labels.size() == 0, "linear probe: {} values for {} training images", train_x.size(),
            n);
  const int features = static_cast<int>(train_x.size() / train_labels.size());
  CXR_CHECK(test_x.size() == static_cast<std::size_t>(m * features), "linear probe: {} values for {} test images of {}",
            test_x.size(), m, features);

  std::vector<double> mean(features, 0.0), stddev(features, 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (int f = 0; f < features; ++f) mean[f] += train_x[i * features + f] / static_cast<double>(n);
  for (std::int64_t i = 0; i < n; ++i)
    for (int f = 0; f < features; ++f)
      stddev[f] += std::pow(train_x[i * features + f] - mean[f], 2) / static_cast<double>(n);
  for (double& s : stddev) s = std::sqrt(s) + 1e-6;  // a constant feature (a dead ReLU channel) stays 0

  std::vector<std::int64_t> counts(k, 0);
  for (int y : train_labels) {
    CXR_CHECK(y >= 0 && y < k, "linear probe: label {} out of range for {} classes", y, k);
    ++counts[y];
  }
  std::vector<double> weights(k);
  for (int c = 0; c < k; ++c) {
    CXR_CHECK(counts[c] > 0, "linear probe: no training images of '{}'", classes[c]);
    weights[c] = static_cast<double>(n) / (k * static_cast<double>(counts[c]));
  }

  Linear probe(features, k);
  ParameterSet params(probe, 0, DType::F64);
  params.values().zero_();
  AdamW optimizer(params, AdamWOptions{options.lr, 0.9, 0.999, 1e-8, options.weight_decay});
  const Tensor x = standardised(train_x, n, features, mean, stddev);
  const Tensor w = Tensor::from_vector(weights, {k}, DType::F64);
  const std::vector<int> y(train_labels.begin(), train_labels.end());
  for (int step = 0; step < options.steps; ++step) {
    params.zero_grad();
    Tensor loss = cross_entropy(probe.forward(x), y, w);
    loss.backward();
    optimizer.step();
  }

  ProbeResult r;
  r.classes = classes;
  r.train_images = n;
  r.test_images = m;
  r.features = features;
  r.confusion.assign(k, std::vector<std::int64_t>(k, 0));
  Tensor logits;
  {
    NoGradGuard no_grad;
    logits = probe.forward(standardised(test_x, m, features, mean, stddev));
  }
  std::vector<std::int64_t> test_counts(k, 0);
  std::int64_t correct = 0;
  for (std::int64_t i = 0; i < m; ++i) {
    const double* row = logits.data<double>() + i * k;
    const int predicted = static_cast<int>(std::max_element(row, row + k) - row);
    const int truth = test_labels[i];
    CXR_CHECK(truth >= 0 && truth < k, "linear probe: label {} out of range for {} classes", truth, k);
    ++r.confusion[truth][predicted];
    ++test_counts[truth];
    correct += predicted == truth;
  }
  r.accuracy = static_cast<double>(correct) / static_cast<double>(m);
  r.chance_accuracy = static_cast<double>(*std::max_element(test_counts.begin(), test_counts.end())) / m;
  int present = 0;
  for (int c = 0; c < k; ++c)
    if (test_counts[c] > 0) {
      r.balanced_accuracy += static_cast<double>(r.confusion[c][c]) / static_cast<double>(test_counts[c]);
      ++present;
    }
  r.balanced_accuracy /= std::max(present, 1);
  r.chance_balanced_accuracy = 1.0 / std::max(present, 1);
  return r;
}

std::string format_probe(const ProbeResult& p) {
  std::string out = fmt::format(
      "Source probe (linear, on the {} pooled features; {} training, {} held-out images):\n"
      "  accuracy {:.3f} (chance {:.3f}), balanced accuracy {:.3f} (chance {:.3f})\n  {:<12}",
      p.features, p.train_images, p.test_images, p.accuracy, p.chance_accuracy, p.balanced_accuracy,
      p.chance_balanced_accuracy, "true \\ probe");
  for (const auto& c : p.classes) out += fmt::format("{:>10}", c);
  out += "\n";
  for (std::size_t t = 0; t < p.classes.size(); ++t) {
    out += fmt::format("  {:<12}", p.classes[t]);
    for (auto v : p.confusion[t]) out += fmt::format("{:>10}", v);
    out += "\n";
  }
  return out;
}

boost::json::object probe_to_json(const ProbeResult& p) {
  namespace json = boost::json;
  json::array confusion;
  for (const auto& row : p.confusion) confusion.push_back(json::value_from(row));
  return {{"classes", json::value_from(p.classes)},
          {"train_images", p.train_images},
          {"test_images", p.test_images},
          {"features", p.features},
          {"accuracy", p.accuracy},
          {"chance_accuracy", p.chance_accuracy},
          {"balanced_accuracy", p.balanced_accuracy},
          {"chance_balanced_accuracy", p.chance_balanced_accuracy},
          {"confusion_matrix", std::move(confusion)}};
}

}  // namespace cxr
