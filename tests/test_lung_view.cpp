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
#include "models/model_file.h"
#include "models/ood_gate.h"
#include "models/presets.h"

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

std::vector<std::uint8_t> png_bytes(int w, int h, const std::vector<std::uint8_t>& px) {
  std::string png;
  stbi_write_png_to_func(
      [](void* ctx, void* data, int n) { static_cast<std::string*>(ctx)->append(static_cast<char*>(data), n); }, &png,
      w, h, 1, px.data(), w);
  return {png.begin(), png.end()};
}

// A 40 x 40 dark image with a bright 16 x 14 block at (x, y), the block labelled lungs.
SegSlice block_slice(int x, int y) {
  SegSlice s{"block", {40, 40, std::vector<std::uint8_t>(40 * 40, 30)}, std::vector<std::uint8_t>(40 * 40, 0)};
  for (int r = y; r < y + 14; ++r)
    for (int c = x; c < x + 16; ++c) s.image.pixels[r * 40 + c] = 200, s.labels[r * 40 + c] = 1;
  return s;
}

// Train, eval and serve see the same pixels: a dataset written through the view holds,
// for an image, exactly the square prediction makes of the same file with the model
// that load_model returns (its segmenter found beside it), for both views.
TEST(LungViewDataset, PredictionCutsLikeTheDatasetItTrainedOn) {
  for (const char* text : {"mask:0.1", "crop:0.1"}) {
    test::TempDir dir;
    std::filesystem::create_directories(dir / "in");
    // One 40 x 40 source image, fitted (pad) to the 16 px square as `cxr data build` does.
    const SegSlice bright = block_slice(12, 8);
    const std::vector<std::uint8_t>& source = bright.image.pixels;
    std::vector<std::uint8_t> square(256);
    data::fit_square(square.data(), 16, {40, 40, source}, data::Fit::pad);
    data::CacheWriter cache(dir / "in" / "cache.bin", {1, 16, 4, 0.5f, 0.25f});
    cache.write(square.data());
    cache.close();
    data::write_manifest(dir / "in" / "manifest.csv",
                         {{0, data::Source::kermany, "x.png", "p0", 1, data::Split::train, "PA", std::string(64, '0')}},
                         4);
    test::write_file(dir / "in" / "stats.json", R"({"settings": {"size": 16, "fit": "pad"}})");
    SegNetConfig seg_config;
    seg_config.input_size = 32;
    seg_config.widths = {8, 16, 16};
    SegModel lungs = make_seg_model(SegTask::lung_fields, seg_config, 2);
    // Taught that the bright block is the lungs, so its mask covers part of the square.
    std::vector<SegSlice> blocks;
    for (int k = 0; k < 8; ++k) blocks.push_back(block_slice(2 + 3 * k, 20 - 2 * k));
    train_seg(lungs, blocks, {.epochs = 30, .batch_size = 4, .lr = 1e-2, .seed = 3, .augment = false});
    save_seg_model((dir / "lungs.safetensors").string(), lungs);
    write_lung_view_dataset(dir / "in", dir / "out", lungs, dir / "lungs.safetensors", LungView::parse(text));
    const data::Dataset trained_on = data::Dataset::open(dir / "out");
    ASSERT_NE(std::vector<std::uint8_t>(trained_on.pixels(0), trained_on.pixels(0) + 256), square)
        << text << ": the view must change the square, or this test proves nothing";

    // A classifier saved as the trainer saves it: the view in its metadata, the segmenter beside it.
    ModelInfo info;
    info.preset = "cxr-small";
    info.config = preset_config("cxr-small", 4, 16).narrowed(0.125);
    info.class_names = {"covid", "normal", "bacterial", "viral"};
    info.fit = data::Fit::pad;
    info.dataset_size = 16;
    info.extra = dataset_lung_view_metadata(dir / "out");
    auto net = make_net(info.config, 1);
    ParameterSet params(*net, 2);
    save_model((dir / "m.safetensors").string(), *net, info);
    std::filesystem::copy_file(dir / "out" / kLungModelFile, lung_segmenter_path_for(dir / "m.safetensors"));
    const LoadedModel served = load_model((dir / "m.safetensors").string());
    ASSERT_NE(served.info.lung_view, nullptr) << text;
    EXPECT_EQ(served.info.lung_view->view().str(), text);

    check_dataset_matches_model(trained_on, served.info, (dir / "out").string(), "m.safetensors");
    expect_error_mentioning(
        [&] {
          check_dataset_matches_model(data::Dataset::open(dir / "in"), served.info, (dir / "in").string(),
                                      "m.safetensors");
        },
        {"lung view none", std::string("trained with the lung view ") + text});
    const PreparedImage p = prepare_image(png_bytes(40, 40, source), served.info);
    EXPECT_EQ(p.fitted.pixels, std::vector<std::uint8_t>(trained_on.pixels(0), trained_on.pixels(0) + 256)) << text;
  }
}

TEST(LungViewDataset, CropGeometryMapsTheCutSquareBackToTheSource) {
  // A 100 x 50 source padded into a 20 px square: rows 5..15 of the square hold it.
  const data::FitGeometry fitted = data::fit_geometry(100, 50, 20, data::Fit::pad);
  LungViewResult cut;
  cut.crop_left = 4, cut.crop_top = 4, cut.crop_side = 10;  // square x 4..14 -> cut square x 0..20
  const data::FitGeometry g = cut_geometry(fitted, cut, 20);
  // Cut-square x 0 is square x 4 is source x 20; cut-square x 20 is square x 14, source x 70.
  EXPECT_NEAR(g.to_source_x(0), fitted.to_source_x(4), 1e-9);
  EXPECT_NEAR(g.to_source_x(20), fitted.to_source_x(14), 1e-9);
  EXPECT_NEAR(g.to_source_y(0), fitted.to_source_y(4), 1e-9);
  cut.crop_side = 0;
  const data::FitGeometry same = cut_geometry(fitted, cut, 20);
  EXPECT_EQ(same.dst_w, fitted.dst_w);
}

TEST(LungViewDataset, ALungViewModelNeedsItsOwnSegmenter) {
  test::TempDir dir;
  ModelInfo info;
  info.preset = "cxr-small";
  info.config = preset_config("cxr-small", 4, 16).narrowed(0.125);
  info.class_names = {"covid", "normal", "bacterial", "viral"};
  info.extra = {{"lung_view", "crop:0.1"}, {"lung_model_sha256", std::string(64, '0')}};
  auto net = make_net(info.config, 1);
  ParameterSet params(*net, 2);
  const std::string path = (dir / "m.safetensors").string();
  save_model(path, *net, info);
  expect_error_mentioning([&] { load_model(path); }, {"crop:0.1", "m.lungs.safetensors", "missing"});
  SegNetConfig seg_config;
  seg_config.input_size = 16;
  seg_config.widths = {4, 8};
  SegModel lungs = make_seg_model(SegTask::lung_fields, seg_config, 11);
  save_seg_model(lung_segmenter_path_for(path).string(), lungs);
  expect_error_mentioning([&] { load_model(path); }, {"not the lung segmenter", "SHA-256"});
  // Metadata without a loaded segmenter (a ModelInfo built by hand): refused, not guessed.
  expect_error_mentioning([&] { prepare_image(png_bytes(40, 40, test::pattern(40, 40, 1, 1)), info); },
                          {"lung view crop:0.1", "not loaded"});
}

}  // namespace
}  // namespace cxr
