// A linear classifier trained from scratch on frozen feature vectors (the
// classifier's penultimate features): the cheap stand-in for retraining a network
// when only the training set changes, as in the GAN augmentation experiment
// (models/gan_evaluation.h). AdamW on the mean cross entropy, seeded mini-batches.
#pragma once

#include "models/frechet_distance.h"

#include <cstdint>
#include <vector>

namespace cxr {

struct LinearHeadOptions {
  int epochs = 30;
  int batch_size = 128;
  double lr = 3e-3;
  double weight_decay = 1e-4;
  std::uint64_t seed = 1;  // initialisation and batch order
};

// Trains on (train, labels in 0..classes-1) and returns the argmax class of every
// row of `test`. Throws cxr::Error on empty or mismatched input.
std::vector<int> fit_and_predict_linear_head(const FeatureRows& train, const std::vector<int>& labels, int classes,
                                             const FeatureRows& test, const LinearHeadOptions& options);

}  // namespace cxr
