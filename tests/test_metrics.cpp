// Classification metrics against values computed by hand (the fractions are in the
// comments). Every expectation is exact up to double rounding of a few operations,
// so the tolerance is 1e-12.
#include "expect_error.h"

#include "models/metrics.h"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <cmath>

using namespace cxr;

namespace {

constexpr double kTol = 1e-12;

//            predicted A  B  C
const ConfusionMatrix kConfusion = {{5, 2, 0},   // true A, support 7
                                    {1, 3, 1},   // true B, support 5
                                    {0, 2, 6}};  // true C, support 8
const std::vector<std::string> kNames = {"A", "B", "C"};

TEST(Metrics, PerClassAndAveragesOfAFixedConfusionMatrix) {
  const ClassificationReport r = report_from_confusion(kConfusion, kNames);
  EXPECT_EQ(r.count, 20);
  EXPECT_NEAR(r.accuracy, 14.0 / 20, kTol);
  // Precision: column sums 6, 7, 7. Recall: row sums 7, 5, 8.
  EXPECT_NEAR(r.classes[0].precision, 5.0 / 6, kTol);
  EXPECT_NEAR(r.classes[1].precision, 3.0 / 7, kTol);
  EXPECT_NEAR(r.classes[2].precision, 6.0 / 7, kTol);
  EXPECT_NEAR(r.classes[0].recall, 5.0 / 7, kTol);
  EXPECT_NEAR(r.classes[1].recall, 3.0 / 5, kTol);
  EXPECT_NEAR(r.classes[2].recall, 6.0 / 8, kTol);
  // F1 = 2PR/(P+R): A (50/42)/(65/42) = 10/13, B (18/35)/(36/35) = 1/2, C (36/28)/(45/28) = 4/5.
  EXPECT_NEAR(r.classes[0].f1, 10.0 / 13, kTol);
  EXPECT_NEAR(r.classes[1].f1, 0.5, kTol);
  EXPECT_NEAR(r.classes[2].f1, 0.8, kTol);
  EXPECT_EQ(r.classes[0].support, 7);
  EXPECT_EQ(r.classes[1].support, 5);
  EXPECT_EQ(r.classes[2].support, 8);
  EXPECT_NEAR(r.macro_precision, (5.0 / 6 + 3.0 / 7 + 6.0 / 7) / 3, kTol);
  EXPECT_NEAR(r.macro_recall, (5.0 / 7 + 3.0 / 5 + 6.0 / 8) / 3, kTol);
  EXPECT_NEAR(r.macro_f1, (10.0 / 13 + 0.5 + 0.8) / 3, kTol);
  EXPECT_NEAR(r.weighted_precision, (7 * 5.0 / 6 + 5 * 3.0 / 7 + 8 * 6.0 / 7) / 20, kTol);
  // Weighted recall is always the accuracy.
  EXPECT_NEAR(r.weighted_recall, 14.0 / 20, kTol);
  EXPECT_NEAR(r.weighted_f1, (7 * 10.0 / 13 + 5 * 0.5 + 8 * 0.8) / 20, kTol);
}

TEST(Metrics, ConfusionMatrixCountsTruthByRowAndRejectsBadLabels) {
  const std::vector<int> labels = {0, 0, 1, 2, 2, 2};
  const std::vector<int> predicted = {0, 1, 1, 2, 0, 2};
  EXPECT_EQ(confusion_matrix(labels, predicted, 3), (ConfusionMatrix{{1, 1, 0}, {0, 1, 0}, {1, 0, 2}}));
  cxr::testing::expect_error_mentioning(
      [&] {
        confusion_matrix(labels, std::vector<int>{0, 1}, 3);
      },
      {"6 labels", "2 predictions"});
  cxr::testing::expect_error_mentioning([&] { confusion_matrix(std::vector<int>{3}, std::vector<int>{0}, 3); },
                                        {"label 3", "0..2"});
}

TEST(Metrics, ClassNeverPredictedOrAbsentHasZeroNotNaN) {
  // Class C is never predicted (precision 0/0 -> 0) and has no images (recall 0/0 -> 0).
  const ConfusionMatrix m = {{2, 1, 0}, {1, 1, 0}, {0, 0, 0}};
  const ClassificationReport r = report_from_confusion(m, kNames);
  EXPECT_EQ(r.classes[2].precision, 0.0);
  EXPECT_EQ(r.classes[2].recall, 0.0);
  EXPECT_EQ(r.classes[2].f1, 0.0);
  EXPECT_EQ(r.classes[2].support, 0);
  // The macro average still counts it (as scikit-learn with labels=[0, 1, 2]).
  // F1: A P=2/3 R=2/3 -> 2/3; B P=1/2 R=1/2 -> 1/2.
  EXPECT_NEAR(r.macro_f1, (2.0 / 3 + 0.5 + 0) / 3, kTol);
  EXPECT_NEAR(r.weighted_f1, (3 * 2.0 / 3 + 2 * 0.5) / 5, kTol);
}

TEST(Metrics, RocAucCountsTiesAsOneHalf) {
  // scikit-learn's documented example: 0.75.
  EXPECT_NEAR(roc_auc(std::vector<double>{0.1, 0.4, 0.35, 0.8}, {false, false, true, true}), 0.75, kTol);
  // Pairs (positive, negative): (.5,.2) 1, (.5,.5) 1/2, (.9,.2) 1, (.9,.5) 1 -> 3.5 / 4.
  EXPECT_NEAR(roc_auc(std::vector<double>{0.2, 0.5, 0.5, 0.9}, {false, true, false, true}), 0.875, kTol);
  // The same items in another order give the same value.
  EXPECT_NEAR(roc_auc(std::vector<double>{0.5, 0.9, 0.2, 0.5}, {false, true, false, true}), 0.875, kTol);
  // All tied: chance.
  EXPECT_NEAR(roc_auc(std::vector<double>{0.3, 0.3, 0.3, 0.3, 0.3}, {true, false, true, false, false}), 0.5, kTol);
  // Perfect and reversed rankings.
  EXPECT_EQ(roc_auc(std::vector<double>{0.1, 0.2, 0.7, 0.8}, {false, false, true, true}), 1.0);
  EXPECT_EQ(roc_auc(std::vector<double>{0.1, 0.2, 0.7, 0.8}, {true, true, false, false}), 0.0);
  // Undefined with one side empty.
  EXPECT_TRUE(std::isnan(roc_auc(std::vector<double>{0.1, 0.2}, {true, true})));
  EXPECT_TRUE(std::isnan(roc_auc(std::vector<double>{0.1, 0.2}, {false, false})));
}

TEST(Metrics, ExpectedCalibrationErrorOfFifteenBins) {
  // Four at 0.9 (bin (13/15, 14/15]) with 3 right: |0.75 - 0.9| = 0.15; two at 0.5,
  // one right: 0. ECE = 4/6 * 0.15.
  EXPECT_NEAR(expected_calibration_error(std::vector<double>{0.9, 0.9, 0.9, 0.9, 0.5, 0.5},
                                         {true, true, true, false, true, false}),
              0.1, kTol);
  // 0.2 = 3/15 closes the third bin; 0.21 opens the fourth. Separate bins:
  // (|1 - 0.2| + |0 - 0.21|) / 2 = 0.505 (one bin would give |0.5 - 0.205| = 0.295).
  EXPECT_NEAR(expected_calibration_error(std::vector<double>{0.2, 0.21}, {true, false}), 0.505, kTol);
  // Confidence 1 goes to the last bin, 0 to the first.
  EXPECT_NEAR(expected_calibration_error(std::vector<double>{1.0, 0.0}, {true, true}), 0.5, kTol);
  // Perfect calibration within a bin.
  EXPECT_NEAR(
      expected_calibration_error(std::vector<double>{0.6, 0.6, 0.6, 0.6, 0.6}, {true, true, true, false, false}), 0.0,
      kTol);
  cxr::testing::expect_error_mentioning([] { expected_calibration_error(std::vector<double>{1.5}, {true}); },
                                        {"1.5", "[0, 1]"});
}

TEST(Metrics, ReportFromProbabilities) {
  // Three classes, five images; predictions (argmax): 0, 1, 1, 2, 0 (the last row
  // ties 0 and 1 at 0.4: the first class wins).
  const std::vector<double> probs = {0.7, 0.2, 0.1,  //
                                     0.3, 0.6, 0.1,  //
                                     0.1, 0.8, 0.1,  //
                                     0.2, 0.2, 0.6,  //
                                     0.4, 0.4, 0.2};
  const std::vector<int> labels = {0, 1, 0, 2, 1};
  const ClassificationReport r = classification_report(probs, labels, kNames);
  EXPECT_EQ(r.confusion, (ConfusionMatrix{{1, 1, 0}, {1, 1, 0}, {0, 0, 1}}));
  EXPECT_NEAR(r.accuracy, 3.0 / 5, kTol);
  // Class 0 scores: positives {0.7, 0.1}, negatives {0.3, 0.2, 0.4}: 0.7 beats all 3, 0.1 none -> 3/6.
  EXPECT_NEAR(r.classes[0].auc, 0.5, kTol);
  // Class 1: positives {0.6, 0.4}, negatives {0.2, 0.8, 0.2}: 2 + 2 -> 4/6.
  EXPECT_NEAR(r.classes[1].auc, 4.0 / 6, kTol);
  // Class 2: positive {0.6}, negatives {0.1, 0.1, 0.1, 0.2}: 1.
  EXPECT_NEAR(r.classes[2].auc, 1.0, kTol);
  EXPECT_NEAR(r.macro_auc, (0.5 + 4.0 / 6 + 1.0) / 3, kTol);
  // Confidences 0.7 (bin 11, right), 0.6 (bin 9, right), 0.8 (bin 12, wrong),
  // 0.6 (bin 9, right), 0.4 (bin 6, wrong): |2 - 1.2| + |1 - 0.7| + |0 - 0.8| + |0 - 0.4| = 2.3.
  EXPECT_NEAR(r.ece, 2.3 / 5, kTol);
}

TEST(Metrics, LabelSetsResolveToThePredictionWhenAdmissibleElseTheLikeliestMember) {
  // 4-class scheme: target 4 is pneumonia = {bacterial (2), viral (3)}.
  const std::vector<double> p{0.1, 0.1, 0.7,  0.1,   // bacterial: admissible
                              0.1, 0.1, 0.2,  0.6,   // viral: admissible
                              0.6, 0.1, 0.1,  0.2,   // covid: a miss, viral the likelier member
                              0.5, 0.2, 0.15, 0.15,  // covid: a miss, a tie goes to the first member
                              0.2, 0.5, 0.2,  0.1};  // a single-class target is itself
  const std::vector<int> targets{4, 4, 4, 4, 1};
  EXPECT_EQ(resolve_targets(p, targets, 4), (std::vector<int>{2, 3, 3, 2, 1}));
  const ClassificationReport r = classification_report(p, targets, {"covid", "normal", "bacterial", "viral"});
  EXPECT_EQ(r.confusion[2][2], 1);
  EXPECT_EQ(r.confusion[3][3], 1);
  EXPECT_EQ(r.confusion[3][0], 1);
  EXPECT_EQ(r.confusion[2][0], 1);
  EXPECT_DOUBLE_EQ(r.accuracy, 3.0 / 5.0);
  EXPECT_THROW(resolve_targets(p, std::vector<int>{5, 4, 4, 4, 1}, 4), Error);
  EXPECT_THROW(resolve_targets(p, std::vector<int>{4, 4}, 4), Error);
}

TEST(Metrics, JsonHoldsEverythingAndNullForUndefinedAuc) {
  // Class C has no images: its AUC is undefined.
  const std::vector<double> probs = {0.9, 0.05, 0.05, 0.2, 0.7, 0.1};
  const std::vector<int> labels = {0, 1};
  const ClassificationReport r = classification_report(probs, labels, kNames);
  const boost::json::object o = report_to_json(r);
  EXPECT_TRUE(o.at("classes").as_array().at(2).as_object().at("auc").is_null());
  EXPECT_DOUBLE_EQ(o.at("macro").as_object().at("auc").as_double(), 1.0);
  EXPECT_EQ(o.at("confusion_matrix").as_array().at(1).as_array().at(1).as_int64(), 1);
  EXPECT_DOUBLE_EQ(o.at("accuracy").as_double(), 1.0);
  const std::string table = format_report(r);
  EXPECT_NE(table.find("n/a"), std::string::npos) << table;
}

}  // namespace
