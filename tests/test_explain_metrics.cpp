// The measures `cxr eval-heatmaps` adds for the explanation methods: ROAD's noisy
// linear imputation and curves (models/explain/road.h) and the rank correlation of
// the randomisation checks (models/explain/rank_correlation.h), and the gallery of
// maps (models/explain/gallery.h).
#include "engine/random.h"
#include "models/explain/gallery.h"
#include "models/explain/rank_correlation.h"
#include "models/explain/road.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace cxr;

namespace {

constexpr std::int64_t kSide = 20;

Tensor ramp() {
  std::vector<double> v;
  for (std::int64_t y = 0; y < kSide; ++y)
    for (std::int64_t x = 0; x < kSide; ++x) v.push_back(0.3 * y - 0.7 * x + 2);
  return Tensor::from_vector(v, {1, 1, kSide, kSide}, DType::F64);
}

TEST(Road, ImputationRecoversALinearRampInsideTheImage) {
  // The 8-neighbour weighted mean of a linear function is its centre value, so a
  // ramp solves the system exactly away from the border.
  std::vector<std::uint8_t> removed(kSide * kSide, 0);
  for (std::int64_t y = 5; y < 14; ++y)
    for (std::int64_t x = 4; x < 15; ++x) removed[y * kSide + x] = 1;
  Generator gen(1);
  const Tensor image = ramp();
  const Tensor filled = noisy_linear_imputation(image, removed, 0.0, gen, 1e-12, 20000);
  // SOR stops when no pixel moves by 1e-12; the error left is of that order times
  // the iteration's contraction, far below 1e-8.
  for (std::int64_t j = 0; j < image.numel(); ++j) ASSERT_NEAR(filled.at(j), image.at(j), 1e-8) << "pixel " << j;
}

TEST(Road, FilledPixelsAreTheMeanOfTheirNeighboursAndKeptPixelsStay) {
  Generator gen(2);
  std::vector<double> v(kSide * kSide);
  for (double& x : v) x = gen.normal();
  const Tensor image = Tensor::from_vector(v, {1, 1, kSide, kSide}, DType::F64);
  std::vector<std::uint8_t> removed(kSide * kSide, 0);
  for (std::int64_t j = 0; j < kSide * kSide; ++j) removed[j] = gen.uniform() < 0.6;
  const Tensor filled = noisy_linear_imputation(image, removed, 0.0, gen, 1e-13, 20000);
  const std::vector<double> f = filled.to_vector();
  const int dy[8] = {-1, 1, 0, 0, -1, -1, 1, 1}, dx[8] = {0, 0, -1, 1, -1, 1, -1, 1};
  for (std::int64_t y = 0; y < kSide; ++y)
    for (std::int64_t x = 0; x < kSide; ++x) {
      const std::int64_t j = y * kSide + x;
      if (!removed[j]) {
        ASSERT_EQ(f[j], v[j]);
        continue;
      }
      double sum = 0, weight = 0;
      for (int n = 0; n < 8; ++n) {
        const std::int64_t ny = y + dy[n], nx = x + dx[n];
        if (ny < 0 || ny >= kSide || nx < 0 || nx >= kSide) continue;
        const double w = n < 4 ? 1.0 / 6 : 1.0 / 12;
        sum += w * f[ny * kSide + nx];
        weight += w;
      }
      ASSERT_NEAR(f[j], sum / weight, 1e-9) << "pixel " << j;
    }
}

TEST(Road, NoiseIsAddedToTheFilledPixelsOnly) {
  std::vector<std::uint8_t> removed(kSide * kSide, 0);
  removed[7 * kSide + 7] = removed[8 * kSide + 9] = 1;
  Generator quiet(3), noisy(3);
  const Tensor a = noisy_linear_imputation(ramp(), removed, 0.0, quiet, 1e-12, 20000);
  const Tensor b = noisy_linear_imputation(ramp(), removed, 0.5, noisy, 1e-12, 20000);
  for (std::int64_t j = 0; j < a.numel(); ++j) {
    if (removed[j])
      EXPECT_GT(std::abs(a.at(j) - b.at(j)), 1e-6);
    else
      EXPECT_EQ(a.at(j), b.at(j));
  }
}

TEST(Road, MostRelevantFirstRemovesTheHottestPixelsFirst) {
  // The score is 1 while the hottest pixel keeps its value: MoRF removes it at every
  // fraction, LeRF at none below 100 %.
  Generator gen(4);
  std::vector<double> v(kSide * kSide);
  for (double& x : v) x = gen.normal();
  const Tensor image = Tensor::from_vector(v, {1, 1, kSide, kSide}, DType::F64);
  std::vector<std::int64_t> order(kSide * kSide);
  std::iota(order.begin(), order.end(), std::int64_t{0});
  std::reverse(order.begin(), order.end());
  const std::int64_t hottest = order[0];
  const ScoreFn score = [&](const Tensor& batch) {
    std::vector<double> out;
    for (std::int64_t i = 0; i < batch.size(0); ++i)
      out.push_back(batch.at(i * kSide * kSide + hottest) == v[hottest] ? 1.0 : 0.0);
    return out;
  };
  RoadSettings settings;
  settings.fractions = {0.1, 0.5, 0.9};
  const RoadResult r = road(score, image, order, settings, gen);
  EXPECT_EQ(r.morf, (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(r.lerf, (std::vector<double>{1, 1, 1}));
  EXPECT_DOUBLE_EQ(r.morf_area, 0.0);
  EXPECT_DOUBLE_EQ(r.lerf_area, 1.0);
}

TEST(Road, BadInputIsAClearError) {
  Generator gen(5);
  EXPECT_THROW(noisy_linear_imputation(ramp(), std::vector<std::uint8_t>(3, 0), 0.0, gen), Error);
  RoadSettings settings;
  settings.fractions = {1.5};
  std::vector<std::int64_t> order(kSide * kSide, 0);
  const ScoreFn score = [](const Tensor& b) {
    return std::vector<double>(b.size(0), 0.0);
  };
  EXPECT_THROW(road(score, ramp(), order, settings, gen), Error);
  EXPECT_THROW(road(score, ramp(), std::vector<std::int64_t>(5, 0), RoadSettings{}, gen), Error);
}

TEST(RankCorrelation, SpearmanOfMonotoneTiedAndConstantMaps) {
  const Tensor a = Tensor::from_vector(std::vector<double>{1, 2, 3, 4}, {2, 2}, DType::F64);
  const Tensor cubed = Tensor::from_vector(std::vector<double>{1, 8, 27, 64}, {2, 2}, DType::F64);
  const Tensor reversed = Tensor::from_vector(std::vector<double>{4, 3, 2, 1}, {2, 2}, DType::F64);
  EXPECT_NEAR(spearman(a, cubed), 1.0, 1e-15);
  EXPECT_NEAR(spearman(a, reversed), -1.0, 1e-15);
  // Ties get mid-ranks: ranks {0.5, 0.5, 2, 3} against {0, 1, 2, 3}.
  const Tensor tied = Tensor::from_vector(std::vector<double>{0, 0, 5, 9}, {2, 2}, DType::F64);
  const double expected = 4.5 / std::sqrt(4.5 * 5.0);
  EXPECT_NEAR(spearman(tied, a), expected, 1e-15);
  EXPECT_TRUE(std::isnan(spearman(a, Tensor::zeros({2, 2}, DType::F64))));
  EXPECT_THROW(spearman(a, Tensor::zeros({3}, DType::F64)), Error);
}

}  // namespace

namespace {

TEST(Gallery, TilesAreTheOverlaysShrunkByABoxAverage) {
  const data::GreyImage xray{4, 4, {0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150}};
  std::vector<double> ramp(16);
  for (int j = 0; j < 16; ++j) ramp[j] = j / 15.0;
  const Tensor a = Tensor::from_vector(ramp, {4, 4}, DType::F64), b = Tensor::zeros({4, 4}, DType::F64);
  const RgbImage sheet = explanation_gallery({xray, xray}, {{a, b}, {b, a}}, 0.5, 2);
  ASSERT_EQ(sheet.width, 4);
  ASSERT_EQ(sheet.height, 4);
  const RgbImage overlay = render_overlay(xray, a, 0.5);
  for (int ch = 0; ch < 3; ++ch) {
    // Tile (row 0, column 0), pixel (0, 0): the rounded mean of the overlay's top-left 2x2 block.
    int sum = 0;
    for (int p : {0, 1, 4, 5}) sum += overlay.pixels[p * 3 + ch];
    EXPECT_EQ(sheet.pixels[ch], (sum + 2) / 4);
    // Row 1, column 1 holds the same map: the same pixel.
    EXPECT_EQ(sheet.pixels[(2 * 4 + 2) * 3 + ch], sheet.pixels[ch]);
  }
  EXPECT_THROW(explanation_gallery({xray}, {{a}}, 0.5, 3), Error);
  EXPECT_THROW(explanation_gallery({xray}, {}, 0.5, 1), Error);
}

}  // namespace
