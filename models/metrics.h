// Classification metrics for `cxr eval` and the training history.
//
// Conventions (those of scikit-learn, so numbers can be checked against it):
//   confusion[t][p]  images of true class t predicted as p (rows: truth)
//   precision_c = TP / (TP + FP), 0 when the class is never predicted
//   recall_c    = TP / (TP + FN), 0 when the class has no images
//   F1_c        = 2 P R / (P + R), 0 when P + R = 0
//   macro       = unweighted mean over classes; weighted = mean weighted by support
//   accuracy    = trace / total
//   ROC AUC, one class against the rest: the probability that a random positive
//     scores above a random negative, ties counting one half (Mann-Whitney U with
//     mid-ranks). Undefined (NaN) when the class has no positives or no negatives;
//     the macro AUC averages the classes where it is defined.
//   ECE (Guo et al. 2017): confidence = the top probability, correct = argmax is the
//     label; 15 equal-width bins, bin m = 1..15 holds confidences in ((m-1)/15, m/15]
//     (the edges as doubles; a confidence of 0 goes to the first bin);
//     ECE = sum_m |B_m|/n * |accuracy(B_m) - mean confidence(B_m)|.
// The prediction is the first class of highest probability.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace cxr {

using ConfusionMatrix = std::vector<std::vector<std::int64_t>>;

struct ClassMetrics {
  std::string name;
  double precision = 0, recall = 0, f1 = 0;
  std::int64_t support = 0;  // images whose true class this is
  double auc = 0;            // one-vs-rest; NaN when undefined
};

struct ClassificationReport {
  std::int64_t count = 0;
  ConfusionMatrix confusion;
  std::vector<ClassMetrics> classes;
  double accuracy = 0;
  double macro_precision = 0, macro_recall = 0, macro_f1 = 0;
  double weighted_precision = 0, weighted_recall = 0, weighted_f1 = 0;
  double macro_auc = 0;  // NaN when no class has a defined AUC
  double ece = 0;
};

inline constexpr int kEceBins = 15;

ConfusionMatrix confusion_matrix(std::span<const int> labels, std::span<const int> predictions, int num_classes);

// Per-class precision, recall, F1, support and the averages and accuracy, from a
// confusion matrix (AUC and ECE need scores: left at 0).
ClassificationReport report_from_confusion(const ConfusionMatrix& confusion,
                                           const std::vector<std::string>& class_names);

// One-vs-rest ROC AUC of `scores` with `positive[i]` the truth; NaN when either
// side is empty.
double roc_auc(std::span<const double> scores, const std::vector<bool>& positive);

double expected_calibration_error(std::span<const double> confidences, const std::vector<bool>& correct,
                                  int bins = kEceBins);

// Everything, from the probabilities [n x classes] (row-major) and the targets
// (class labels, or label sets resolved as resolve_targets below says).
ClassificationReport classification_report(std::span<const double> probabilities, std::span<const int> targets,
                                           const std::vector<std::string>& class_names);

// argmax of each row of probabilities [n x classes].
std::vector<int> predictions_from(std::span<const double> probabilities, int num_classes);

// Label sets (data/labels.h: a target such as NIH "pneumonia" admits bacterial
// or viral). Every metric above scores one class per image, so a target is resolved to
// the class it is scored as: the predicted class when that is admissible (a right
// call), otherwise the admissible class the model found most probable (a miss of that
// class). A single-class target is its class.
std::vector<int> resolve_targets(std::span<const double> probabilities, std::span<const int> targets, int num_classes);

// A fixed-width table: per-class rows, averages, accuracy, AUC, ECE and the
// confusion matrix.
std::string format_report(const ClassificationReport& report);

// All fields; NaN becomes null.
boost::json::object report_to_json(const ClassificationReport& report);

}  // namespace cxr
