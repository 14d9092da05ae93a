// The bad-input errors of the segmentation ops (their numerics are checked by the op
// registry, tests/ops): each names the op and what was wrong.
#include "expect_error.h"

#include "engine/ops.h"

#include <gtest/gtest.h>

#include <limits>

namespace cxr {
namespace {

using testing::expect_error_mentioning;

TEST(SegmentationOps, ConcatChannelsRefusesMismatchedInputs) {
  expect_error_mentioning([] { concat_channels({}); }, {"concat_channels", "no tensors"});
  expect_error_mentioning(
      [] {
        concat_channels({Tensor::zeros({1, 2, 4, 4}), Tensor::zeros({1, 2, 4, 5})});
      },
      {"concat_channels", "[1, 2, 4, 5]", "N, H and W"});
  expect_error_mentioning(
      [] {
        concat_channels({Tensor::zeros({1, 2, 4, 4}), Tensor::zeros({1, 2, 4, 4}, DType::F64)});
      },
      {"concat_channels", "input 1"});
  expect_error_mentioning([] { concat_channels({Tensor::zeros({2, 4})}); }, {"concat_channels"});
}

TEST(SegmentationOps, SliceChannelsRefusesRangesOutsideTheInput) {
  const Tensor x = Tensor::zeros({1, 3, 2, 2});
  expect_error_mentioning([&] { slice_channels(x, 2, 2); }, {"slice_channels", "[2, 4)", "3 channels"});
  expect_error_mentioning([&] { slice_channels(x, -1, 1); }, {"slice_channels"});
  expect_error_mentioning([&] { slice_channels(x, 0, 0); }, {"slice_channels"});
  EXPECT_EQ(slice_channels(x, 1, 2).shape(), (Shape{1, 2, 2, 2}));
}

TEST(SegmentationOps, LossesRefuseBadTargetsAndParameters) {
  const Tensor p = Tensor::full({1, 1, 2, 2}, 0.5);
  expect_error_mentioning(
      [&] {
        binary_cross_entropy_with_logits(p, Tensor::zeros({1, 1, 2, 3}));
      },
      {"binary_cross_entropy_with_logits"});
  Tensor learnable = Tensor::zeros({1, 1, 2, 2}).set_requires_grad();
  expect_error_mentioning([&] { binary_cross_entropy_with_logits(p, learnable); }, {"targets are constants"});
  expect_error_mentioning([&] { soft_dice_loss(p, Tensor::zeros({1, 1, 2, 2}), 0.0); }, {"soft_dice_loss", "smooth"});
  expect_error_mentioning([&] { soft_dice_loss(Tensor::zeros({4}), Tensor::zeros({4})); }, {"soft_dice_loss"});
  expect_error_mentioning([&] { leaky_relu(p, std::numeric_limits<double>::infinity()); },
                          {"leaky_relu", "negative_slope"});
  // An empty map and an empty prediction: no loss (the smoothing term).
  EXPECT_DOUBLE_EQ(soft_dice_loss(Tensor::zeros({1, 1, 2, 2}), Tensor::zeros({1, 1, 2, 2})).item(), 0.0);
}

}  // namespace
}  // namespace cxr
