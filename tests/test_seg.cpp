// CT segmentation (models/seg_*): the overlap metrics on hand-counted cases, the
// rendering of inputs and targets, the U-Net's shapes, a model file's round trip,
// training that learns a synthetic lesion, and bad input. The real slices are
// scored by `cxr seg eval` (docs/evaluation.md), not here: too slow for a unit test.
#include "expect_error.h"

#include "engine/autograd.h"
#include "engine/io/checkpoint.h"
#include "models/seg_crossval.h"
#include "models/seg_model.h"
#include "models/seg_overlay.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace cxr {
namespace {

using testing::expect_error_mentioning;

TEST(SegMetrics, DiceAndIouOfHandCountedMasks) {
  // truth 1 1 0 0, predicted 1 0 1 0: TP 1, FP 1, FN 1.
  const OverlapCounts c = count_overlap({true, false, true, false}, {true, true, false, false});
  EXPECT_EQ(c.tp, 1);
  EXPECT_EQ(c.fp, 1);
  EXPECT_EQ(c.fn, 1);
  EXPECT_DOUBLE_EQ(c.dice(), 0.5);
  EXPECT_DOUBLE_EQ(c.iou(), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(OverlapCounts{}.dice(), 1.0) << "nothing to find, nothing found";
  EXPECT_DOUBLE_EQ((OverlapCounts{0, 3, 0}).dice(), 0.0);
}

TEST(SegMetrics, PooledWeighsPixelsMeanWeighsSlices) {
  const std::vector<OverlapCounts> slices = {{90, 10, 0}, {0, 0, 10}};  // Dice 0.947 and 0
  const OverlapSummary s = summarize_overlap(slices, 200, 3);
  EXPECT_NEAR(s.mean_dice.value, (180.0 / 190.0 + 0.0) / 2, 1e-12);
  EXPECT_NEAR(s.pooled_dice.value, 180.0 / 200.0, 1e-12);  // TP 90, FP 10, FN 10
  EXPECT_NEAR(s.pooled_iou.value, 90.0 / 110.0, 1e-12);
  EXPECT_LE(s.mean_dice.low, s.mean_dice.value);
  EXPECT_GE(s.mean_dice.high, s.mean_dice.value);
  EXPECT_GE(s.mean_dice.low, 0.0);
  EXPECT_LE(s.mean_dice.high, 180.0 / 190.0 + 1e-12);
}

// A synthetic slice: a bright disc ("body") with a darker-then-brighter blob (the
// "lesion", labelled `label`) at (cx, cy).
SegSlice synthetic_slice(int width, int height, double cx, double cy, std::uint8_t label) {
  SegSlice s;
  s.id = "synthetic";
  s.image = {width, height, std::vector<std::uint8_t>(static_cast<std::size_t>(width) * height, 0)};
  s.labels.assign(s.image.pixels.size(), 0);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const double u = (x + 0.5) / width - 0.5, v = (y + 0.5) / height - 0.5;
      const bool lesion = std::hypot(u - cx, v - cy) < 0.12;
      const std::size_t i = static_cast<std::size_t>(y) * width + x;
      s.image.pixels[i] = lesion ? 220 : (std::hypot(u, v) < 0.45 ? 60 : 0);
      if (lesion) s.labels[i] = label;
    }
  return s;
}

TEST(SegData, IdentityRenderingStretchesTheSliceAndItsLabels) {
  const SegSlice slice = synthetic_slice(60, 40, 0.2, -0.1, 2);
  std::vector<float> targets(2 * 16 * 16), input(16 * 16);
  render_seg_targets(targets.data(), 16, SegTask::multiclass, slice, SegAugment::identity());
  render_seg_input(input.data(), 16, slice.image, SegAugment::identity());
  // The lesion centre, (0.7, 0.4) of the square, is consolidation (channel 1), not ground-glass.
  const int centre = static_cast<int>(0.4 * 16) * 16 + static_cast<int>(0.7 * 16);
  EXPECT_EQ(targets[centre], 0.0f);
  EXPECT_EQ(targets[256 + centre], 1.0f);
  EXPECT_NEAR(input[centre], (220 / 255.0 - 0.5) / 0.25, 1e-5);
  EXPECT_NEAR(input[0], (0 - 0.5) / 0.25, 1e-6) << "a corner is outside the body: black";
  std::vector<float> binary(16 * 16);
  render_seg_targets(binary.data(), 16, SegTask::infection, slice, SegAugment::identity());
  EXPECT_EQ(binary[centre], 1.0f) << "consolidation is infection";
}

TEST(SegData, AugmentationWarpsImageAndLabelsTogether) {
  const SegSlice slice = synthetic_slice(64, 64, 0.15, 0.1, 1);
  Generator gen(5);
  for (int trial = 0; trial < 5; ++trial) {
    const SegAugment aug = SegAugment::random(gen);
    std::vector<float> input(32 * 32), targets(32 * 32);
    render_seg_input(input.data(), 32, slice.image, aug);
    render_seg_targets(targets.data(), 32, SegTask::infection, slice, aug);
    // Where the label is set the image is the lesion's grey (up to the jitter), far
    // brighter than the body's.
    int labelled = 0;
    for (int i = 0; i < 32 * 32; ++i)
      if (targets[i] == 1.0f) {
        ++labelled;
        const double grey = (input[i] * 0.25 + 0.5 - 0.5 - aug.brightness) / aug.contrast + 0.5;
        EXPECT_GT(grey, 120 / 255.0) << "trial " << trial << " pixel " << i;
      }
    EXPECT_GT(labelled, 10) << "trial " << trial;
  }
}

TEST(SegNet, OutputHasOneChannelPerClassAtTheInputSize) {
  SegNetConfig config;
  config.input_size = 32;
  config.widths = {4, 8, 8};
  SegModel model = make_seg_model(SegTask::multiclass, config, 1);
  const Tensor logits = model.net->forward(Tensor::zeros({2, 1, 32, 32}));
  EXPECT_EQ(logits.shape(), (Shape{2, 2, 32, 32}));
  expect_error_mentioning([&] { model.net->forward(Tensor::zeros({1, 1, 30, 30})); }, {"divisible"});
  expect_error_mentioning([&] { model.net->forward(Tensor::zeros({1, 3, 32, 32})); }, {"[N, 1, H, W]"});
  config.input_size = 34;  // two halvings need a multiple of 4
  expect_error_mentioning([&] { make_seg_model(SegTask::infection, config, 1); }, {"34", "divisible"});
}

TEST(SegModel, LearnsASyntheticLesionAndSurvivesAFileRoundTrip) {
  std::vector<SegSlice> train;
  Generator place(9);
  for (int i = 0; i < 8; ++i)
    train.push_back(synthetic_slice(48, 40, place.uniform(-0.2, 0.2), place.uniform(-0.2, 0.2), 1));
  SegNetConfig config;
  config.input_size = 32;
  config.widths = {8, 16, 16};
  SegModel model = make_seg_model(SegTask::infection, config, 2);
  std::vector<double> losses;
  train_seg(model, train, {.epochs = 30, .batch_size = 4, .lr = 1e-2, .seed = 3, .augment = false},
            [&](int, double loss) { losses.push_back(loss); });
  ASSERT_EQ(losses.size(), 30u);
  EXPECT_LT(losses.back(), 0.5 * losses.front()) << "the loss falls on an easy task";
  const SegEvaluation e = evaluate_seg(model, train);
  ASSERT_EQ(e.names, std::vector<std::string>{"infection"});
  EXPECT_GT(e.summaries[0].mean_dice.value, 0.7) << "the lesions are found";

  const std::string path = (std::filesystem::temp_directory_path() / "cxr_test_seg.safetensors").string();
  save_seg_model(path, model);
  SegModel loaded = load_seg_model(path);
  std::filesystem::remove(path);
  EXPECT_EQ(loaded.task, SegTask::infection);
  EXPECT_EQ(loaded.net->config().widths, config.widths);
  const SegPrediction a = predict_seg(model, train[0].image), b = predict_seg(loaded, train[0].image);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.width, 48);
  EXPECT_EQ(a.height, 40);
  ASSERT_EQ(a.area_fraction.size(), 1u);
  EXPECT_GT(a.area_fraction[0], 0.0);
}

TEST(SegModel, RefusesFilesThatAreNotSegmentationModels) {
  const std::string path = (std::filesystem::temp_directory_path() / "cxr_test_seg_bad.safetensors").string();
  SegNetConfig config;
  config.input_size = 16;
  config.widths = {4, 4};
  SegModel model = make_seg_model(SegTask::infection, config, 1);
  save_checkpoint(path, *model.net, {{"format", "something-else"}});
  expect_error_mentioning([&] { load_seg_model(path); }, {path, "cxr-seg"});
  std::filesystem::remove(path);
  expect_error_mentioning([] { parse_seg_task("lungs"); }, {"lungs", "infection or multiclass"});
}

TEST(SegCrossValidation, ScoresEverySliceOnceByAModelThatNeverSawIt) {
  std::vector<SegSlice> slices;
  Generator place(4);
  for (int i = 0; i < 6; ++i) {
    slices.push_back(synthetic_slice(32, 32, place.uniform(-0.2, 0.2), place.uniform(-0.2, 0.2), 1));
    slices.back().id = std::to_string(i);
  }
  SegNetConfig config;
  config.input_size = 16;
  config.widths = {4, 8};
  std::vector<int> epochs_per_fold(3, 0);
  const SegEvaluation e =
      cross_validate_seg(slices, SegTask::infection, config, {.epochs = 2, .batch_size = 2, .augment = false}, 3, 7,
                         [&](int fold, int, double) { ++epochs_per_fold.at(fold); });
  EXPECT_EQ(epochs_per_fold, (std::vector<int>{2, 2, 2}));
  std::vector<std::string> ids = e.slice_ids;
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"0", "1", "2", "3", "4", "5"}));
  ASSERT_EQ(e.per_slice.size(), 1u);
  EXPECT_EQ(e.per_slice[0].size(), 6u);
  ASSERT_EQ(e.summaries.size(), 1u);
  expect_error_mentioning([&] { cross_validate_seg(slices, SegTask::infection, config, {}, 7, 1); },
                          {"7 folds", "6 slices"});
}

TEST(SegOverlay, ColoursOnlyLabelledPixels) {
  const data::GreyImage image{2, 1, {100, 100}};
  const RgbImage out = render_seg_overlay(image, {0, 1}, /*binary=*/false, 0.5);
  EXPECT_EQ(out.pixels[0], 100);  // background stays grey
  EXPECT_EQ(out.pixels[3], 175);  // ground-glass: half of yellow's 250
  expect_error_mentioning([&] { render_seg_overlay(image, {0}, true); }, {"1 labels", "2x1"});
}

}  // namespace
}  // namespace cxr
