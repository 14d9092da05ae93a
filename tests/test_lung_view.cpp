// What the classifier is allowed to see (models/lung_view.h): the crop and mask views
// on hand-made squares and masks, their parsing, and that a view through the
// segmenter equals the view of the segmenter's own mask; a dataset written through a
// view holds exactly those pixels and names the view, and a model trained on it
// records the view and refuses single-image prediction it could not do alike.
#include "data_fixtures.h"
#include "expect_error.h"

#include "data/dataset.h"
#include "data/manifest.h"
#include "engine/data/cache_file.h"
#include "models/inference.h"
#include "models/lung_view.h"
#include "models/lung_view_dataset.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace cxr {
namespace {

using testing::expect_error_mentioning;

// A 20 x 20 square whose pixel (x, y) is 10 * (x % 10) + y % 10 + 1 (never 0), and a
// lung mask covering x 6..13, y 4..15 (box 8 wide, 12 high).
data::GreyImage numbered_square() {
  data::GreyImage s{20, 20, std::vector<std::uint8_t>(400)};
  for (int y = 0; y < 20; ++y)
    for (int x = 0; x < 20; ++x) s.pixels[y * 20 + x] = static_cast<std::uint8_t>(10 * (x % 10) + y % 10 + 1);
  return s;
}

std::vector<std::uint8_t> box_lungs() {
  std::vector<std::uint8_t> m(400, 0);
  for (int y = 4; y <= 15; ++y)
    for (int x = 6; x <= 13; ++x) m[y * 20 + x] = 1;
  return m;
}

TEST(LungView, ParsesModesAndMargins) {
  EXPECT_EQ(LungView::parse("none").mode, LungViewMode::none);
  EXPECT_EQ(LungView::parse("crop").mode, LungViewMode::crop);
  EXPECT_DOUBLE_EQ(LungView::parse("crop").margin, 0.1);
  EXPECT_DOUBLE_EQ(LungView::parse("mask:0.05").margin, 0.05);
  EXPECT_EQ(LungView::parse("mask:0.05").str(), "mask:0.05");
  EXPECT_EQ(LungView::parse(LungView::parse("crop:0.2").str()).str(), "crop:0.2");
  expect_error_mentioning([] { LungView::parse("blur"); }, {"blur", "crop[:MARGIN]"});
  expect_error_mentioning([] { LungView::parse("crop:x"); }, {"crop:x", "margin"});
  expect_error_mentioning([] { LungView::parse("mask:2"); }, {"0 to 1"});
}

TEST(LungView, MaskZeroesEverythingFartherThanTheMargin) {
  const data::GreyImage square = numbered_square();
  const LungViewResult r = apply_lung_view(LungView::parse("mask:0.1"), square, box_lungs());  // 2 px
  ASSERT_TRUE(r.changed);
  for (int y = 0; y < 20; ++y)
    for (int x = 0; x < 20; ++x) {
      const bool kept = x >= 4 && x <= 15 && y >= 2 && y <= 17;
      EXPECT_EQ(r.image.pixels[y * 20 + x], kept ? square.pixels[y * 20 + x] : 0) << x << "," << y;
    }
}

TEST(LungView, CropKeepsTheGrownSquareAroundTheBox) {
  const data::GreyImage square = numbered_square();
  // Margin 0: the square of side 12 (the box's longer side) centred on x 6..13 -> x 4..15, y 4..15.
  const LungViewResult r = apply_lung_view(LungView::parse("crop:0"), square, box_lungs());
  ASSERT_TRUE(r.changed);
  data::GreyImage expected_crop{12, 12, std::vector<std::uint8_t>(144)};
  for (int y = 0; y < 12; ++y)
    for (int x = 0; x < 12; ++x) expected_crop.pixels[y * 12 + x] = square.pixels[(y + 4) * 20 + x + 4];
  std::vector<std::uint8_t> expected(400);
  data::fit_square(expected.data(), 20, expected_crop, data::Fit::pad);
  EXPECT_EQ(r.image.pixels, expected);
  // A margin that would leave the square is moved inside; one larger than it keeps all.
  const LungViewResult all = apply_lung_view(LungView::parse("crop:1"), square, box_lungs());
  EXPECT_EQ(all.image.pixels, square.pixels) << "side 36 clipped to 20: the whole square, unfiltered";
}

TEST(LungView, EmptyMaskOrNoneLeavesTheSquare) {
  const data::GreyImage square = numbered_square();
  const LungViewResult empty = apply_lung_view(LungView::parse("crop"), square, std::vector<std::uint8_t>(400, 0));
  EXPECT_FALSE(empty.changed);
  EXPECT_EQ(empty.image.pixels, square.pixels);
  EXPECT_FALSE(apply_lung_view(LungView{}, square, box_lungs()).changed);
  expect_error_mentioning([&] { apply_lung_view(LungView::parse("crop"), square, {1, 0}); }, {"20x20", "2 pixels"});
}

TEST(LungView, ThroughTheSegmenterEqualsTheViewOfItsMask) {
  SegNetConfig config;
  config.input_size = 16;
  config.widths = {4, 8};
  SegModel lungs = make_seg_model(SegTask::lung_fields, config, 5);
  const data::GreyImage square = numbered_square();
  const LungView view = LungView::parse("mask:0.1");
  const LungViewResult direct = apply_lung_view(view, square, predict_seg(lungs, square).labels);
  const LungViewResult through = lung_view_of_square(lungs, view, square);
  EXPECT_EQ(through.changed, direct.changed);
  EXPECT_EQ(through.image.pixels, direct.image.pixels);
  SegModel ct = make_seg_model(SegTask::infection, config, 5);
  expect_error_mentioning([&] { lung_view_of_square(ct, view, square); }, {"lung-fields", "infection"});
}

// A built dataset of three 16 x 16 images (two train, one test) with a stats.json.
void write_dataset(const test::TempDir& dir) {
  std::filesystem::create_directories(dir / "in");
  data::CacheWriter cache(dir / "in" / "cache.bin", {3, 16, 4, 0.5f, 0.25f});
  std::vector<data::ManifestRow> rows;
  for (int i = 0; i < 3; ++i) {
    const std::vector<std::uint8_t> px = test::pattern(16, 16, 1, i);
    cache.write(px.data());
    rows.push_back({i, data::Source::kermany, "NORMAL/x.jpeg", "p" + std::to_string(i), 1,
                    i < 2 ? data::Split::train : data::Split::test, "PA", std::string(64, '0')});
  }
  cache.close();
  data::write_manifest(dir / "in" / "manifest.csv", rows, 4);
  test::write_file(dir / "in" / "stats.json", R"({"settings": {"size": 16, "fit": "pad", "seed": 7}})");
}

TEST(LungViewDataset, HoldsTheViewOfEveryImageAndNamesIt) {
  test::TempDir dir;
  write_dataset(dir);
  SegNetConfig config;
  config.input_size = 16;
  config.widths = {4, 8};
  SegModel lungs = make_seg_model(SegTask::lung_fields, config, 5);
  save_seg_model((dir / "lungs.safetensors").string(), lungs);
  const LungView view = LungView::parse("mask:0.1");
  const LungViewDatasetReport r =
      write_lung_view_dataset(dir / "in", dir / "out", lungs, dir / "lungs.safetensors", view);
  EXPECT_EQ(r.images, 3);
  const data::Dataset in = data::Dataset::open(dir / "in");
  const data::Dataset out = data::Dataset::open(dir / "out");
  ASSERT_EQ(out.size(), 3);
  EXPECT_EQ(out.manifest_sha256(), in.manifest_sha256()) << "the same images, labels and split";
  double sum = 0;
  for (std::int64_t i = 0; i < 3; ++i) {
    const data::GreyImage square{16, 16, std::vector<std::uint8_t>(in.pixels(i), in.pixels(i) + 256)};
    const LungViewResult expected = lung_view_of_square(lungs, view, square);
    EXPECT_EQ(std::vector<std::uint8_t>(out.pixels(i), out.pixels(i) + 256), expected.image.pixels) << i;
    if (i < 2)
      for (std::uint8_t p : expected.image.pixels) sum += p / 255.0;
  }
  EXPECT_NEAR(out.mean(), sum / 512, 1e-6) << "the train split's mean after the view";
  EXPECT_TRUE(std::filesystem::exists(dir / "out" / kLungModelFile));
  const auto metadata = dataset_lung_view_metadata(dir / "out");
  EXPECT_EQ(metadata.at("lung_view"), "mask:0.1");
  EXPECT_EQ(metadata.at("lung_model_sha256").size(), 64u);
  EXPECT_TRUE(dataset_lung_view_metadata(dir / "in").empty());
  expect_error_mentioning(
      [&] { write_lung_view_dataset(dir / "in", dir / "in", lungs, dir / "lungs.safetensors", view); },
      {"is the input"});
  expect_error_mentioning(
      [&] { write_lung_view_dataset(dir / "out", dir / "twice", lungs, dir / "lungs.safetensors", view); },
      {"already seen through the lung view mask:0.1"});
}

TEST(LungViewDataset, SingleImagePredictionRefusesALungViewModel) {
  ModelInfo info;
  info.config.input_size = 32;
  info.extra["lung_view"] = "crop:0.1";
  const std::vector<std::uint8_t> px = test::pattern(40, 40, 1, 1);
  std::string png;
  stbi_write_png_to_func(
      [](void* ctx, void* data, int n) { static_cast<std::string*>(ctx)->append(static_cast<char*>(data), n); }, &png,
      40, 40, 1, px.data(), 40);
  const std::vector<std::uint8_t> bytes(png.begin(), png.end());
  expect_error_mentioning([&] { prepare_image(bytes, info); }, {"lung view crop:0.1", "cxr lungs apply"});
}

}  // namespace
}  // namespace cxr
