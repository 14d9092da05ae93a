#include "models/metrics.h"

#include "base/check.h"
#include "data/labels.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace cxr {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double ratio(double num, double den) {
  return den > 0 ? num / den : 0.0;
}

boost::json::value number_or_null(double x) {
  if (std::isnan(x)) return nullptr;
  return x;
}

}  // namespace

ConfusionMatrix confusion_matrix(std::span<const int> labels, std::span<const int> predictions, int num_classes) {
  CXR_CHECK(labels.size() == predictions.size(), "confusion_matrix: {} labels but {} predictions", labels.size(),
            predictions.size());
  CXR_CHECK(num_classes > 0, "confusion_matrix: {} classes", num_classes);
  ConfusionMatrix m(num_classes, std::vector<std::int64_t>(num_classes, 0));
  for (std::size_t i = 0; i < labels.size(); ++i) {
    CXR_CHECK(labels[i] >= 0 && labels[i] < num_classes && predictions[i] >= 0 && predictions[i] < num_classes,
              "confusion_matrix: item {} has label {} and prediction {}; classes are 0..{}", i, labels[i],
              predictions[i], num_classes - 1);
    ++m[labels[i]][predictions[i]];
  }
  return m;
}

ClassificationReport report_from_confusion(const ConfusionMatrix& confusion,
                                           const std::vector<std::string>& class_names) {
  const std::size_t k = confusion.size();
  CXR_CHECK(k == class_names.size(), "report: a {}x{} confusion matrix for {} class names", k, k, class_names.size());
  ClassificationReport r;
  r.confusion = confusion;
  std::int64_t correct = 0;
  for (std::size_t t = 0; t < k; ++t) {
    CXR_CHECK(confusion[t].size() == k, "report: confusion row {} has {} entries, expected {}", t, confusion[t].size(),
              k);
    for (std::size_t p = 0; p < k; ++p) r.count += confusion[t][p];
    correct += confusion[t][t];
  }
  for (std::size_t c = 0; c < k; ++c) {
    std::int64_t predicted = 0;
    for (std::size_t t = 0; t < k; ++t) predicted += confusion[t][c];
    ClassMetrics m;
    m.name = class_names[c];
    m.support = std::accumulate(confusion[c].begin(), confusion[c].end(), std::int64_t{0});
    const double tp = static_cast<double>(confusion[c][c]);
    m.precision = ratio(tp, static_cast<double>(predicted));
    m.recall = ratio(tp, static_cast<double>(m.support));
    m.f1 = ratio(2 * m.precision * m.recall, m.precision + m.recall);
    r.macro_precision += m.precision / static_cast<double>(k);
    r.macro_recall += m.recall / static_cast<double>(k);
    r.macro_f1 += m.f1 / static_cast<double>(k);
    const double w = ratio(static_cast<double>(m.support), static_cast<double>(r.count));
    r.weighted_precision += w * m.precision;
    r.weighted_recall += w * m.recall;
    r.weighted_f1 += w * m.f1;
    r.classes.push_back(m);
  }
  r.accuracy = ratio(static_cast<double>(correct), static_cast<double>(r.count));
  return r;
}

double roc_auc(std::span<const double> scores, const std::vector<bool>& positive) {
  CXR_CHECK(scores.size() == positive.size(), "roc_auc: {} scores but {} labels", scores.size(), positive.size());
  const std::size_t n = scores.size();
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
  // Sum of the (1-based, mid-ranked) ranks of the positives.
  double rank_sum = 0;
  std::int64_t positives = 0;
  for (std::size_t i = 0; i < n;) {
    std::size_t j = i;
    while (j < n && scores[order[j]] == scores[order[i]]) ++j;
    const double mid_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (std::size_t t = i; t < j; ++t)
      if (positive[order[t]]) {
        rank_sum += mid_rank;
        ++positives;
      }
    i = j;
  }
  const auto negatives = static_cast<std::int64_t>(n) - positives;
  if (positives == 0 || negatives == 0) return kNaN;
  const double p = static_cast<double>(positives);
  return (rank_sum - p * (p + 1) / 2) / (p * static_cast<double>(negatives));
}

double expected_calibration_error(std::span<const double> confidences, const std::vector<bool>& correct, int bins) {
  CXR_CHECK(confidences.size() == correct.size(), "expected_calibration_error: {} confidences but {} labels",
            confidences.size(), correct.size());
  CXR_CHECK(bins > 0, "expected_calibration_error: {} bins", bins);
  if (confidences.empty()) return 0.0;
  std::vector<double> conf_sum(bins, 0.0), hits(bins, 0.0), count(bins, 0.0);
  for (std::size_t i = 0; i < confidences.size(); ++i) {
    const double c = confidences[i];
    CXR_CHECK(c >= 0 && c <= 1, "expected_calibration_error: confidence {} outside [0, 1]", c);
    // ceil(c * bins) - 1, then checked against the edges m / bins as doubles, so that
    // a confidence equal to an edge (0.2 = 3/15) lands in the bin it closes.
    int b = std::clamp(static_cast<int>(std::ceil(c * bins)) - 1, 0, bins - 1);
    if (b > 0 && c <= static_cast<double>(b) / bins) --b;
    if (b < bins - 1 && c > static_cast<double>(b + 1) / bins) ++b;
    conf_sum[b] += c;
    hits[b] += correct[i] ? 1.0 : 0.0;
    count[b] += 1;
  }
  double ece = 0;
  for (int b = 0; b < bins; ++b)
    if (count[b] > 0) ece += std::abs(hits[b] - conf_sum[b]);  // = |B| * |acc(B) - conf(B)|
  return ece / static_cast<double>(confidences.size());
}

std::vector<int> predictions_from(std::span<const double> probabilities, int num_classes) {
  CXR_CHECK(num_classes > 0 && probabilities.size() % num_classes == 0,
            "predictions_from: {} probabilities are not rows of {} classes", probabilities.size(), num_classes);
  std::vector<int> out(probabilities.size() / num_classes);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto row = probabilities.subspan(i * num_classes, num_classes);
    out[i] = static_cast<int>(std::max_element(row.begin(), row.end()) - row.begin());
  }
  return out;
}

ClassificationReport classification_report(std::span<const double> probabilities, std::span<const int> targets,
                                           const std::vector<std::string>& class_names) {
  const int k = static_cast<int>(class_names.size());
  CXR_CHECK(probabilities.size() == targets.size() * class_names.size(),
            "classification_report: {} probabilities for {} labels of {} classes", probabilities.size(), targets.size(),
            k);
  const std::vector<int> labels = resolve_targets(probabilities, targets, k);
  const std::vector<int> predicted = predictions_from(probabilities, k);
  ClassificationReport r = report_from_confusion(confusion_matrix(labels, predicted, k), class_names);

  const std::size_t n = labels.size();
  std::vector<double> confidence(n), scores(n);
  std::vector<bool> correct(n), positive(n);
  for (std::size_t i = 0; i < n; ++i) {
    confidence[i] = probabilities[i * k + predicted[i]];
    correct[i] = predicted[i] == labels[i];
  }
  r.ece = expected_calibration_error(confidence, correct);

  double auc_sum = 0;
  int defined = 0;
  for (int c = 0; c < k; ++c) {
    for (std::size_t i = 0; i < n; ++i) {
      scores[i] = probabilities[i * k + c];
      positive[i] = labels[i] == c;
    }
    r.classes[c].auc = roc_auc(scores, positive);
    if (!std::isnan(r.classes[c].auc)) {
      auc_sum += r.classes[c].auc;
      ++defined;
    }
  }
  r.macro_auc = defined > 0 ? auc_sum / defined : kNaN;
  return r;
}

std::string format_report(const ClassificationReport& r) {
  auto num = [](double x) {
    return std::isnan(x) ? std::string("n/a") : fmt::format("{:.3f}", x);
  };
  std::size_t width = 12;
  for (const auto& c : r.classes) width = std::max(width, c.name.size() + 2);
  std::string out = fmt::format("{:<{}}{:>10}{:>10}{:>10}{:>10}{:>10}\n", "class", width, "precision", "recall", "f1",
                                "support", "auc");
  for (const auto& c : r.classes)
    out += fmt::format("{:<{}}{:>10}{:>10}{:>10}{:>10}{:>10}\n", c.name, width, num(c.precision), num(c.recall),
                       num(c.f1), c.support, num(c.auc));
  out += fmt::format("{:<{}}{:>10}{:>10}{:>10}{:>10}{:>10}\n", "macro avg", width, num(r.macro_precision),
                     num(r.macro_recall), num(r.macro_f1), r.count, num(r.macro_auc));
  out += fmt::format("{:<{}}{:>10}{:>10}{:>10}{:>10}\n", "weighted avg", width, num(r.weighted_precision),
                     num(r.weighted_recall), num(r.weighted_f1), r.count);
  out += fmt::format("accuracy {} on {} images; expected calibration error {} ({} bins)\n\n", num(r.accuracy), r.count,
                     num(r.ece), kEceBins);
  out += fmt::format("confusion matrix (rows: true class, columns: predicted)\n{:<{}}", "", width);
  for (const auto& c : r.classes) out += fmt::format("{:>10}", c.name);
  out += '\n';
  for (std::size_t t = 0; t < r.classes.size(); ++t) {
    out += fmt::format("{:<{}}", r.classes[t].name, width);
    for (auto v : r.confusion[t]) out += fmt::format("{:>10}", v);
    out += '\n';
  }
  return out;
}

boost::json::object report_to_json(const ClassificationReport& r) {
  namespace json = boost::json;
  json::object o;
  o["count"] = r.count;
  o["accuracy"] = r.accuracy;
  json::array classes;
  for (const auto& c : r.classes)
    classes.push_back(json::object{{"name", c.name},
                                   {"precision", c.precision},
                                   {"recall", c.recall},
                                   {"f1", c.f1},
                                   {"support", c.support},
                                   {"auc", number_or_null(c.auc)}});
  o["classes"] = std::move(classes);
  o["macro"] = json::object{{"precision", r.macro_precision},
                            {"recall", r.macro_recall},
                            {"f1", r.macro_f1},
                            {"auc", number_or_null(r.macro_auc)}};
  o["weighted"] =
      json::object{{"precision", r.weighted_precision}, {"recall", r.weighted_recall}, {"f1", r.weighted_f1}};
  o["ece"] = r.ece;
  o["ece_bins"] = kEceBins;
  json::array confusion;
  for (const auto& row : r.confusion) confusion.push_back(json::value_from(row));
  o["confusion_matrix"] = std::move(confusion);
  o["confusion_matrix_rows"] = "true class";
  return o;
}

std::vector<int> resolve_targets(std::span<const double> probabilities, std::span<const int> targets, int num_classes) {
  const std::size_t k = static_cast<std::size_t>(num_classes);
  CXR_CHECK(probabilities.size() == targets.size() * k,
            "resolve_targets: {} probabilities for {} targets of {} classes", probabilities.size(), targets.size(),
            num_classes);
  const std::vector<int> predicted = predictions_from(probabilities, num_classes);
  std::vector<int> resolved(targets.size());
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const std::uint32_t admissible = data::target_classes(targets[i], num_classes);
    if (admissible & (1u << predicted[i])) {
      resolved[i] = predicted[i];
      continue;
    }
    int best = -1;
    for (int c = 0; c < num_classes; ++c)
      if ((admissible & (1u << c)) && (best < 0 || probabilities[i * k + c] > probabilities[i * k + best])) best = c;
    resolved[i] = best;
  }
  return resolved;
}

}  // namespace cxr
