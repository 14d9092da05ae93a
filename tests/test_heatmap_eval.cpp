// Heatmap evaluation measures on synthetic models and maps whose answers are
// known in closed form, and the lung fields they are measured against.
#include "data_fixtures.h"
#include "expect_error.h"

#include "data/dataset.h"
#include "data/manifest.h"
#include "engine/data/cache_file.h"
#include "models/heatmap_eval.h"
#include "models/lung_fields.h"

#include <cmath>
#include <numeric>

using namespace cxr;

namespace {

constexpr int kSize = 8;  // 64 pixels

// A "model" whose probability is the mean of the pixels in the top two rows
// (16 of 64 pixels): only those pixels matter.
std::vector<double> top_rows_score(const Tensor& batch) {
  std::vector<double> out;
  for (std::int64_t i = 0; i < batch.size(0); ++i) {
    double s = 0;
    for (int p = 0; p < 2 * kSize; ++p) s += batch.at(i * kSize * kSize + p);
    out.push_back(s / (2 * kSize));
  }
  return out;
}

Tensor map_from(const std::vector<double>& v) {
  return Tensor::from_vector(v, {kSize, kSize}, DType::F64);
}

TEST(HeatmapEval, AFaithfulMapDeletesFastAndInsertsFast) {
  const Tensor image = Tensor::ones({1, 1, kSize, kSize});
  const Tensor baseline = Tensor::zeros({1, 1, kSize, kSize});
  // The map is hot exactly on the two rows the model looks at.
  std::vector<double> hot(kSize * kSize, 0.0);
  for (int p = 0; p < 2 * kSize; ++p) hot[p] = 1.0;
  Generator gen(1);
  // 4 steps of 16 pixels: the first step removes all that matters.
  const auto faithful = deletion_insertion(top_rows_score, image, baseline, order_by_heat(map_from(hot), gen), 4);
  EXPECT_EQ(faithful.deletion.scores, (std::vector<double>{1, 0, 0, 0, 0}));
  EXPECT_EQ(faithful.insertion.scores, (std::vector<double>{0, 1, 1, 1, 1}));
  // Trapezoids: (1/2) / 4 and (3 + 1/2) / 4.
  EXPECT_DOUBLE_EQ(faithful.deletion.auc, 0.125);
  EXPECT_DOUBLE_EQ(faithful.insertion.auc, 0.875);

  // The reversed map finds the rows last: deletion [1, 1, 1, 1, 0], insertion [0, 0, 0, 0, 1].
  std::vector<double> cold(hot.size());
  for (std::size_t i = 0; i < hot.size(); ++i) cold[i] = 1.0 - hot[i];
  const auto wrong = deletion_insertion(top_rows_score, image, baseline, order_by_heat(map_from(cold), gen), 4);
  EXPECT_DOUBLE_EQ(wrong.deletion.auc, 0.875);
  EXPECT_DOUBLE_EQ(wrong.insertion.auc, 0.125);
}

TEST(HeatmapEval, ARandomMapScoresNearOneHalfOnAverage) {
  // A random order spreads the 16 relevant pixels evenly in expectation: the
  // expected curve is linear and both AUCs are 1/2. Over 400 draws the mean of an
  // AUC has a standard deviation under 0.1 / sqrt(400) = 0.005; 0.02 is 4 of those.
  const Tensor image = Tensor::ones({1, 1, kSize, kSize});
  const Tensor baseline = Tensor::zeros({1, 1, kSize, kSize});
  Generator gen(7);
  double del = 0, ins = 0;
  const int draws = 400;
  for (int d = 0; d < draws; ++d) {
    std::vector<double> noise(kSize * kSize);
    for (double& v : noise) v = gen.uniform();
    const auto r = deletion_insertion(top_rows_score, image, baseline, order_by_heat(map_from(noise), gen), 8);
    del += r.deletion.auc / draws;
    ins += r.insertion.auc / draws;
  }
  EXPECT_NEAR(del, 0.5, 0.02);
  EXPECT_NEAR(ins, 0.5, 0.02);
}

TEST(HeatmapEval, TiesAreBrokenInRandomNotRowOrder) {
  // An all-zero map: without random tie-breaking the top rows would go first.
  const std::vector<double> flat(kSize * kSize, 0.0);
  Generator gen(3);
  const auto order = order_by_heat(map_from(flat), gen);
  std::vector<std::int64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::int64_t> all(kSize * kSize);
  std::iota(all.begin(), all.end(), 0);
  EXPECT_EQ(sorted, all);  // a permutation
  EXPECT_NE(order, all);
  // Strict order is kept where values differ.
  std::vector<double> ramp(kSize * kSize);
  for (int i = 0; i < kSize * kSize; ++i) ramp[i] = i;
  const auto down = order_by_heat(map_from(ramp), gen);
  for (int i = 0; i < kSize * kSize; ++i) EXPECT_EQ(down[i], kSize * kSize - 1 - i);
}

TEST(HeatmapEval, StepsCoverAllPixelsWhenTheyDoNotDivide) {
  // 64 pixels in 5 steps: 13 a step, the last step takes the remaining 12.
  const Tensor image = Tensor::ones({1, 1, kSize, kSize});
  const Tensor baseline = Tensor::zeros({1, 1, kSize, kSize});
  auto mean_score = [](const Tensor& batch) {
    std::vector<double> out;
    const std::int64_t n = kSize * kSize;
    for (std::int64_t i = 0; i < batch.size(0); ++i) {
      double s = 0;
      for (std::int64_t p = 0; p < n; ++p) s += batch.at(i * n + p);
      out.push_back(s / n);
    }
    return out;
  };
  std::vector<std::int64_t> order(kSize * kSize);
  std::iota(order.begin(), order.end(), 0);
  const auto r = deletion_insertion(mean_score, image, baseline, order, 5);
  ASSERT_EQ(r.deletion.scores.size(), 6u);
  EXPECT_DOUBLE_EQ(r.deletion.scores[1], 51.0 / 64);
  EXPECT_DOUBLE_EQ(r.deletion.scores[4], 12.0 / 64);
  EXPECT_DOUBLE_EQ(r.deletion.scores[5], 0.0);
  EXPECT_DOUBLE_EQ(r.insertion.scores[5], 1.0);
  cxr::testing::expect_error_mentioning(
      [&] { deletion_insertion(mean_score, image, baseline, std::vector<std::int64_t>(3), 5); }, {"3 pixels", "64"});
}

TEST(HeatmapEval, GaussianBlurKeepsConstantsAndSpreadsAnImpulse) {
  const Tensor flat = Tensor::full({1, 1, 9, 9}, -0.7);
  const Tensor b = gaussian_blur(flat, 2.0);
  for (std::int64_t i = 0; i < b.numel(); ++i) EXPECT_NEAR(b.at(i), -0.7, 1e-6);  // float32 output
  Tensor impulse = Tensor::zeros({1, 1, 21, 21});
  impulse.data<float>()[10 * 21 + 10] = 1.0f;
  const Tensor spread = gaussian_blur(impulse, 1.5);
  double total = 0;
  for (std::int64_t i = 0; i < spread.numel(); ++i) total += spread.at(i);
  EXPECT_NEAR(total, 1.0, 1e-6);  // the kernel sums to one, no mass reaches the border
  // The 2-D Gaussian ratio between the centre and a pixel at distance 1 along an axis: exp(-1/(2 sigma^2)).
  EXPECT_NEAR(spread.at(10 * 21 + 11) / spread.at(10 * 21 + 10), std::exp(-0.5 / (1.5 * 1.5)), 1e-5);
}

TEST(HeatmapEval, EnergyPointingAndShareOnKnownBoxes) {
  // A box covering pixels x 0..3, y 0..1 (centres inside [0, 4] x [0, 2]).
  const std::vector<Box> boxes = {{0, 0, 4, 2}};
  const auto mask = box_mask(kSize, boxes);
  EXPECT_DOUBLE_EQ(mask_share(mask), 8.0 / 64);
  std::vector<double> v(kSize * kSize, 0.0);
  v[0] = 3;              // inside
  v[kSize * 5 + 6] = 1;  // outside
  EXPECT_DOUBLE_EQ(energy_inside(map_from(v), mask), 0.75);
  EXPECT_TRUE(pointing_hit(map_from(v), mask));
  v[kSize * 5 + 6] = 4;  // the peak moves outside
  EXPECT_FALSE(pointing_hit(map_from(v), mask));
  EXPECT_DOUBLE_EQ(energy_inside(map_from(v), mask), 3.0 / 7);
  const std::vector<double> zeros(kSize * kSize, 0.0);
  EXPECT_FALSE(pointing_hit(map_from(zeros), mask));  // points nowhere
  EXPECT_EQ(energy_inside(map_from(zeros), mask), 0.0);
}

TEST(HeatmapEval, CocoBoxesAreScaledToTheDecodedImageAndThroughTheFit) {
  cxr::test::TempDir dir;
  const auto path = dir / "boxes.json";
  cxr::test::write_file(path, R"({"images": [{"id": 7, "file_name": "a.png", "width": 1000, "height": 500}],
    "annotations": [{"image_id": 7, "bbox": [100, 50, 300, 400], "category_id": 1},
                    {"image_id": 7, "bbox": [600, 50, 300, 400], "category_id": 2}],
    "categories": []})");
  const auto boxes = read_coco_boxes(path.string());
  ASSERT_EQ(boxes.count("a.png"), 1u);
  const AnnotatedImage& a = boxes.at("a.png");
  EXPECT_EQ(a.width, 1000);
  ASSERT_EQ(a.boxes.size(), 2u);
  // The file was downscaled to 500 x 250; pad to 100: scale 0.2, 100 x 50 at y 25.
  const data::FitGeometry g = data::fit_geometry(500, 250, 100, data::Fit::pad);
  const auto sq = boxes_on_square(a, 500, 250, g);
  // First box: original x 100..400, y 50..450 -> decoded 50..200, 25..225 -> square 10..40, 30..70.
  EXPECT_DOUBLE_EQ(sq[0].x0, 10);
  EXPECT_DOUBLE_EQ(sq[0].x1, 40);
  EXPECT_DOUBLE_EQ(sq[0].y0, 30);
  EXPECT_DOUBLE_EQ(sq[0].y1, 70);
  EXPECT_DOUBLE_EQ(sq[1].x0, 60);

  // A bbox of nulls is no box; an image left without boxes is not listed.
  cxr::test::write_file(path, R"({"images": [{"id": 1, "file_name": "c.png", "width": 10, "height": 10}],
    "annotations": [{"image_id": 1, "bbox": [null, null, null, null]}]})");
  EXPECT_TRUE(read_coco_boxes(path.string()).empty());

  cxr::test::write_file(path, R"({"images": [], "annotations": [{"image_id": 1, "bbox": [0, 0, 1, 1]}]})");
  cxr::testing::expect_error_mentioning([&] { read_coco_boxes(path.string()); }, {"image 1", "not listed"});
  cxr::test::write_file(path, R"({"images": [{"id": 1, "file_name": "b.png", "width": 10}], "annotations": []})");
  cxr::testing::expect_error_mentioning([&] { read_coco_boxes(path.string()); }, {"height"});
}

TEST(HeatmapEval, TheSharedLungBoxesParse) {
  const char* root = std::getenv("CXR_SHARED_DATA");
  if (root == nullptr) GTEST_SKIP() << "CXR_SHARED_DATA is not set (ctest sets it)";
  const std::string path =
      std::string(root) + "/covid-chestxray-dataset/annotations/imageannotation_ai_lung_bounding_boxes.json";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is not there";
  const auto boxes = read_coco_boxes(path);
  // The data README: 167 images, 334 boxes (a right and a left lung each); one
  // image's two boxes are all null, leaving 166 images with boxes.
  EXPECT_EQ(boxes.size(), 166u);
  std::size_t total = 0;
  for (const auto& [name, a] : boxes) total += a.boxes.size();
  EXPECT_EQ(total, 332u);
}

}  // namespace

namespace {

// A dataset directory of `rows` (images all black) with 20 x 20 squares, padded.
data::Dataset lung_dataset(const cxr::test::TempDir& dir, const std::vector<data::ManifestRow>& rows) {
  data::CacheWriter cache(dir / "data" / "cache.bin", {rows.size(), 20, 4, 0.5f, 0.25f});
  const std::vector<std::uint8_t> black(400, 0);
  for (std::size_t i = 0; i < rows.size(); ++i) cache.write(black.data());
  cache.close();
  data::write_manifest(dir / "data" / "manifest.csv", rows, 4);
  return data::Dataset::open(dir / "data");
}

data::ManifestRow lung_row(std::int64_t id, data::Source source, const std::string& path) {
  return {id, source, path, fmt::format("p{}", id), 1, data::Split::test, "PA", std::string(64, '0')};
}

}  // namespace

TEST(LungFields, OwnBoxesWhereAnnotatedAndTheMajorityPriorElsewhere) {
  cxr::test::TempDir dir;
  std::filesystem::create_directories(dir / "data");
  std::filesystem::create_directories(dir / "covid" / "images");
  // Three annotated square files (100 x 100 decoded, annotated at 200 x 200) whose
  // left lungs agree on x 20..40 (map pixels 4..7) and whose right lungs differ.
  for (const char* name : {"a.png", "b.png", "c.png", "wide.png"})
    cxr::test::write_png(dir / "covid" / "images" / name, std::string(name) == "wide.png" ? 150 : 100, 100, 1,
                         cxr::test::pattern(std::string(name) == "wide.png" ? 150 : 100, 100, 1, 0));
  cxr::test::write_file(dir / "boxes.json", R"({"images": [
      {"id": 1, "file_name": "a.png", "width": 200, "height": 200},
      {"id": 2, "file_name": "b.png", "width": 200, "height": 200},
      {"id": 3, "file_name": "c.png", "width": 200, "height": 200},
      {"id": 4, "file_name": "wide.png", "width": 200, "height": 200}],
    "annotations": [{"image_id": 1, "bbox": [40, 40, 40, 120]}, {"image_id": 1, "bbox": [120, 40, 40, 120]},
                    {"image_id": 2, "bbox": [40, 40, 40, 120]}, {"image_id": 2, "bbox": [140, 40, 40, 120]},
                    {"image_id": 3, "bbox": [40, 40, 40, 120]},
                    {"image_id": 4, "bbox": [0, 0, 200, 200]}]})");
  const data::Dataset ds = lung_dataset(
      dir, {lung_row(0, data::Source::ieee8023, "images/a.png"), lung_row(1, data::Source::ieee8023, "images/b.png"),
            lung_row(2, data::Source::ieee8023, "images/c.png"), lung_row(3, data::Source::ieee8023, "images/wide.png"),
            lung_row(4, data::Source::kermany, "NORMAL/x.jpeg")});
  const LungFields fields = LungFields::build(ds, read_coco_boxes((dir / "boxes.json").string()), dir / "covid", 20);
  // wide.png is 150 x 100 but was annotated square: another crop, no boxes of its own.
  EXPECT_EQ(fields.annotated_images(), 3);
  EXPECT_TRUE(fields.annotated(0));
  EXPECT_FALSE(fields.annotated(3));
  // Own mask of a.png: x 40..80 of 200 -> map 4..8 (pixel centres 4.5..7.5), y 4..16.
  const auto& own = *fields.mask(0);
  EXPECT_EQ(own[5 * 20 + 5], 1);
  EXPECT_EQ(own[5 * 20 + 13], 1);  // its right lung at x 12..16
  EXPECT_EQ(own[5 * 20 + 9], 0);
  // The prior: pixels in the boxes of at least two of the three images. The left
  // lung is in all three, a.png's right lung (x 12..16) only in one, and the
  // overlap of a's and b's right lungs (x 14..16) in two.
  const auto& prior = *fields.mask(4);
  EXPECT_EQ(&prior, fields.mask(3));  // unannotated: the prior
  EXPECT_EQ(prior[5 * 20 + 5], 1);
  EXPECT_EQ(prior[5 * 20 + 12], 0);
  EXPECT_EQ(prior[5 * 20 + 15], 1);
  EXPECT_EQ(prior[2 * 20 + 5], 0);  // above the lungs
  EXPECT_NEAR(fields.prior_share(), (4.0 * 12 + 2.0 * 12) / 400, 1e-12);

  // No boxes at all: no masks and no prior.
  const LungFields none = LungFields::build(ds, {}, dir / "covid", 20);
  EXPECT_EQ(none.mask(0), nullptr);
  EXPECT_FALSE(none.has_prior());
}
