// `cxr seg --device cuda`: the U-Net trained and applied on the GPU follows the CPU
// run of the same seed (skipped without a GPU: CXR_REQUIRE_GPU).
#include "cuda_testing.h"

#include "engine/random.h"
#include "models/seg_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace cxr {
namespace {

// A bright disc with a brighter lesion at (cx, cy), labelled infection.
SegSlice lesion_slice(double cx, double cy) {
  constexpr int kSide = 40;
  SegSlice s;
  s.id = "synthetic";
  s.image = {kSide, kSide, std::vector<std::uint8_t>(kSide * kSide, 0)};
  s.labels.assign(s.image.pixels.size(), 0);
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x) {
      const double u = (x + 0.5) / kSide - 0.5, v = (y + 0.5) / kSide - 0.5;
      const bool lesion = std::hypot(u - cx, v - cy) < 0.12;
      s.image.pixels[y * kSide + x] = lesion ? 220 : (std::hypot(u, v) < 0.45 ? 60 : 0);
      s.labels[y * kSide + x] = lesion ? 1 : 0;
    }
  return s;
}

TEST(CudaSeg, TrainingAndPredictionFollowTheCpu) {
  CXR_REQUIRE_GPU();
  std::vector<SegSlice> train;
  Generator place(9);
  for (int i = 0; i < 8; ++i) train.push_back(lesion_slice(place.uniform(-0.2, 0.2), place.uniform(-0.2, 0.2)));
  SegNetConfig config;
  config.input_size = 32;
  config.widths = {8, 16, 16};
  const SegTrainOptions options{.epochs = 5, .batch_size = 4, .lr = 1e-2, .seed = 3, .augment = false};
  std::vector<double> cpu_losses, gpu_losses;
  SegModel cpu = make_seg_model(SegTask::infection, config, 2);
  train_seg(cpu, train, options, [&](int, double loss) { cpu_losses.push_back(loss); });
  SegModel gpu = make_seg_model(SegTask::infection, config, 2);
  gpu.params->to(Device::cuda());
  train_seg(gpu, train, options, [&](int, double loss) { gpu_losses.push_back(loss); });
  ASSERT_EQ(gpu.params->device(), Device::cuda());
  ASSERT_EQ(cpu_losses.size(), gpu_losses.size());
  // Float32 sums in another order drift apart over 10 Adam steps; 2% of the loss is
  // far below what a wrong kernel gives (the first epoch's loss is ~1.5).
  for (std::size_t e = 0; e < cpu_losses.size(); ++e) EXPECT_NEAR(gpu_losses[e], cpu_losses[e], 0.02 * cpu_losses[e]);
  const SegPrediction a = predict_seg(cpu, train[0].image), b = predict_seg(gpu, train[0].image);
  ASSERT_EQ(a.labels.size(), b.labels.size());
  std::size_t differing = 0;
  for (std::size_t i = 0; i < a.labels.size(); ++i) differing += a.labels[i] != b.labels[i];
  EXPECT_LE(differing, a.labels.size() / 50) << "at most 2% of pixels flip at the 0.5 threshold";
}

}  // namespace
}  // namespace cxr
