// The bootstrap interval and the stratified image order of `cxr eval-heatmaps`
// (models/explain/mean_interval.h, models/explain/stratified_order.h).
#include "expect_error.h"

#include "engine/random.h"
#include "models/explain/mean_interval.h"
#include "models/explain/stratified_order.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace cxr;

namespace {

TEST(BootstrapMean, ConstantValuesHaveAPointInterval) {
  const MeanInterval m = bootstrap_mean({0.25, 0.25, 0.25});
  EXPECT_EQ(m.mean, 0.25);
  EXPECT_EQ(m.low, 0.25);
  EXPECT_EQ(m.high, 0.25);
}

TEST(BootstrapMean, IsSeededAndMatchesTheNormalIntervalOnALargeSample) {
  Generator gen(3);
  std::vector<double> v(400);
  double mean = 0, var = 0;
  for (double& x : v) mean += (x = gen.normal()) / 400;
  for (double x : v) var += (x - mean) * (x - mean) / 399;
  const double se = std::sqrt(var / 400);
  const MeanInterval a = bootstrap_mean(v, 4000, 7), b = bootstrap_mean(v, 4000, 7);
  EXPECT_EQ(a.low, b.low);
  EXPECT_EQ(a.high, b.high);
  EXPECT_NEAR(a.mean, mean, 1e-12);
  // For a mean of 400 normal values the percentile interval is mean +- 1.96 se up to
  // the bootstrap's own sampling error (~3% of the width with 4000 draws) and the
  // (n-1)/n variance factor: 10% of the half-width.
  EXPECT_NEAR(a.high - mean, 1.96 * se, 0.1 * 1.96 * se);
  EXPECT_NEAR(mean - a.low, 1.96 * se, 0.1 * 1.96 * se);
}

TEST(BootstrapMean, BadInputsAreClearErrors) {
  cxr::testing::expect_error_mentioning([] { bootstrap_mean({}); }, {"no values"});
  cxr::testing::expect_error_mentioning([] { bootstrap_mean({1.0}, 0); }, {"resamples"});
}

TEST(StratifiedOrder, TakesOneFromEachStratumInTurn) {
  // Strata by tens: 0-9 (five images), 10-19 (two), 20-29 (one), in a shuffled order.
  const std::vector<std::int64_t> order = {13, 4, 2, 27, 8, 11, 0, 6};
  const auto out = stratified_order(order, [](std::int64_t i) { return i / 10; });
  EXPECT_EQ(out, (std::vector<std::int64_t>{4, 13, 27, 2, 11, 8, 0, 6}));
  EXPECT_TRUE(stratified_order({}, [](std::int64_t) { return 0; }).empty());
}

}  // namespace
