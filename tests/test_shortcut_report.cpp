// The shortcut report (models/shortcut_report.h) and the linear source probe
// (models/source_probe.h) on small hand-made cases whose answers are known.
#include "models/shortcut_report.h"
#include "models/source_probe.h"

#include "base/check.h"
#include "engine/random.h"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <cmath>

using namespace cxr;
using data::AgeGroup;
using data::Source;

namespace {

// One row of probabilities that predicts class `c` with 0.7.
void push_call(std::vector<double>& p, int c) {
  for (int k = 0; k < 4; ++k) p.push_back(k == c ? 0.7 : 0.1);
}

}  // namespace

TEST(ShortcutReport, CellsCountCallsPerTargetAndAdultsAcrossSources) {
  std::vector<double> p;
  std::vector<ImageOrigin> o;
  auto add = [&](Source s, AgeGroup a, int target, int call) {
    o.push_back({s, a, target});
    push_call(p, call);
  };
  // NIH adults: 4 normal (one called COVID-19), 4 pneumonia (one called COVID-19,
  // two bacterial, one viral: all three right).
  for (int call : {1, 1, 1, 0}) add(Source::nih, AgeGroup::adult, 1, call);
  for (int call : {2, 2, 3, 0}) add(Source::nih, AgeGroup::adult, 4, call);
  // Kermany children: 3 normal, all right.
  for (int i = 0; i < 3; ++i) add(Source::kermany, AgeGroup::child, 1, 1);
  // ieee8023 adults: 2 COVID-19 (called so), 1 bacterial called COVID-19.
  add(Source::ieee8023, AgeGroup::adult, 0, 0);
  add(Source::ieee8023, AgeGroup::adult, 0, 0);
  add(Source::ieee8023, AgeGroup::adult, 2, 0);

  const ShortcutReport r = shortcut_report(p, o, 4, /*min_cell_images=*/3);
  ASSERT_EQ(r.cells.size(), 3u);  // sorted by source: ieee8023, kermany, nih
  const ShortcutCell& nih = r.cells[2];
  EXPECT_EQ(nih.source, Source::nih);
  EXPECT_EQ(nih.images, 8);
  EXPECT_EQ(nih.by_target[1].images, 4);
  EXPECT_EQ(nih.by_target[1].called_covid, 1);
  EXPECT_EQ(nih.by_target[4].called_covid, 1);
  EXPECT_DOUBLE_EQ(nih.accuracy, 6.0 / 8.0);
  EXPECT_EQ(r.adults_non_covid.images, 9);
  EXPECT_EQ(r.adults_non_covid.called_covid, 3);
  EXPECT_EQ(r.adults_by_target[0].images, 2);
  // Same source: ieee8023 adults, P(covid) 0.7 for all three: a tie, AUC 1/2.
  EXPECT_EQ(r.same_source_covid, 2);
  EXPECT_EQ(r.same_source_other, 1);
  EXPECT_DOUBLE_EQ(r.same_source_auc, 0.5);
  // Kermany is perfect (macro-F1 1 over its one class); ieee8023 is the worst cell:
  // covid F1 = 2 * (2/3) * 1 / (2/3 + 1) = 0.8, bacterial F1 0 -> 0.4.
  EXPECT_DOUBLE_EQ(r.cells[1].macro_f1, 1.0);
  EXPECT_NEAR(r.cells[0].macro_f1, 0.4, 1e-12);
  EXPECT_EQ(r.worst_cell, "ieee8023/adult");
  EXPECT_NEAR(r.worst_cell_macro_f1, 0.4, 1e-12);

  const auto json = shortcut_report_to_json(r);
  EXPECT_EQ(json.at("non_covid_adults_called_covid").at("called_covid").as_int64(), 3);
  EXPECT_NE(format_shortcut_report(r).find("nih/adult"), std::string::npos);
}

TEST(ShortcutReport, SmallCellsAreNotTheWorstAndUndefinedFiguresAreNull) {
  std::vector<double> p;
  push_call(p, 0);
  const std::vector<ImageOrigin> o{{Source::kermany, AgeGroup::child, 1}};
  const ShortcutReport r = shortcut_report(p, o, 4, 20);
  EXPECT_TRUE(std::isnan(r.worst_cell_macro_f1));
  EXPECT_TRUE(std::isnan(r.same_source_auc));
  const auto json = shortcut_report_to_json(r);
  EXPECT_TRUE(json.at("worst_cell").at("macro_f1").is_null());
  EXPECT_TRUE(json.at("same_source").at("auc_p_covid").is_null());
  EXPECT_THROW(shortcut_report(p, std::vector<ImageOrigin>{}, 4), Error);
}

namespace {

// n points of `features` Gaussian features per class; class c shifts feature c by `shift`.
void gaussian_classes(int n, int classes, int features, double shift, std::uint64_t seed, std::vector<double>& x,
                      std::vector<int>& y) {
  Generator gen(seed);
  for (int i = 0; i < n; ++i) {
    const int c = i % classes;
    for (int f = 0; f < features; ++f) x.push_back(gen.normal() + (f == c ? shift : 0.0));
    y.push_back(c);
  }
}

}  // namespace

TEST(SourceProbe, FindsSeparableSourcesAndNotAbsentOnes) {
  const std::vector<std::string> names{"ieee8023", "kermany", "nih"};
  std::vector<double> train_x, test_x;
  std::vector<int> train_y, test_y;
  gaussian_classes(300, 3, 8, 6.0, 1, train_x, train_y);  // 6 sigma apart: linearly separable in practice
  gaussian_classes(150, 3, 8, 6.0, 2, test_x, test_y);
  const ProbeResult easy = train_linear_probe(train_x, train_y, test_x, test_y, names);
  EXPECT_GT(easy.accuracy, 0.97);
  EXPECT_GT(easy.balanced_accuracy, 0.97);
  EXPECT_NEAR(easy.chance_accuracy, 1.0 / 3.0, 1e-12);
  EXPECT_NEAR(easy.chance_balanced_accuracy, 1.0 / 3.0, 1e-12);
  EXPECT_EQ(easy.features, 8);

  // No signal: held-out accuracy near chance. 450 test points, sd of the accuracy
  // sqrt(1/3 * 2/3 / 450) = 0.022; 5 sd = 0.11.
  std::vector<double> noise_train, noise_test;
  std::vector<int> ny_train, ny_test;
  gaussian_classes(300, 3, 8, 0.0, 3, noise_train, ny_train);
  gaussian_classes(450, 3, 8, 0.0, 4, noise_test, ny_test);
  const ProbeResult none = train_linear_probe(noise_train, ny_train, noise_test, ny_test, names);
  EXPECT_NEAR(none.accuracy, 1.0 / 3.0, 0.11);
  EXPECT_NE(format_probe(none).find("balanced accuracy"), std::string::npos);
  EXPECT_EQ(probe_to_json(none).at("confusion_matrix").as_array().size(), 3u);
}

TEST(SourceProbe, RejectsMismatchedInputs) {
  const std::vector<std::string> names{"a", "b"};
  const std::vector<double> x{0, 1, 2, 3};
  EXPECT_THROW(train_linear_probe(x, std::vector<int>{0, 1}, x, std::vector<int>{0}, names), Error);
  EXPECT_THROW(train_linear_probe(x, std::vector<int>{0, 0}, x, std::vector<int>{0, 1}, names), Error);  // no b
  EXPECT_THROW(train_linear_probe(x, std::vector<int>{0, 2}, x, std::vector<int>{0, 1}, names), Error);
}
