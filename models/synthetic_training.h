// Trains a narrowed reference net on the synthetic task (models/synthetic.h):
// the engine's end-to-end smoke test and `cxr demo`.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace cxr {

struct SyntheticTrainingOptions {
  int steps = 600;
  int batch = 32;
  int image_size = 32;
  double width = 0.25;  // channel multiplier of the reference net
  double lr = 3e-3;
  int test_images = 256;
  std::uint64_t seed = 0;
};

struct SyntheticTrainingResult {
  std::vector<double> losses;  // one per step
  double test_accuracy = 0;
  double seconds = 0;
  double images_per_second = 0;
};

SyntheticTrainingResult train_synthetic(const SyntheticTrainingOptions& options,
                                        const std::function<void(int step, double loss)>& on_step = nullptr);

}  // namespace cxr
