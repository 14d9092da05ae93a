// Batches for training from a built dataset: float32 images [B, 1, S, S],
// normalised with the train split's mean and standard deviation (or given ones),
// and int labels (target indices, data/labels.h: a class or a label set).
//
// Every epoch has its own order, drawn from (seed, epoch): a shuffle of the
// indices, or with class_balanced a draw of as many samples, each from a target
// chosen uniformly among those present (a label set such as `pneumonia` is one
// target), then an image of that target uniformly (with replacement), or with
// sample_weights a weighted draw with replacement.
// Augmentation parameters come from (seed, epoch, position in the epoch), so the
// batches are identical whatever the number of worker threads. Workers prepare
// up to `prefetch` batches ahead of the consumer; next() returns them in order.
// With device cuda the batches are made on the GPU (engine/data/device_batch.h): the
// workers upload the uint8 pixels and augment there, with the same parameters.
#pragma once

#include "data/dataset.h"
#include "engine/data/augment.h"
#include "engine/tensor.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace cxr::data {

struct LoaderOptions {
  int batch_size = 32;
  bool shuffle = true;
  bool class_balanced = false;
  // One non-negative weight per index (not all 0): each epoch draws as many samples,
  // each index with probability proportional to its weight (with replacement).
  // Overrides shuffle and class_balanced.
  std::vector<double> sample_weights;
  bool drop_last = false;
  int workers = 2;   // 0: batches are made inside next()
  int prefetch = 4;  // batches in flight ahead of the consumer
  std::uint64_t seed = 0;
  std::optional<AugmentOptions> augment;  // nothing: no augmentation
  std::optional<float> mean, stddev;      // nothing: the dataset's train statistics
  Device device = Device::cpu();          // where the batch tensors are made
};

struct Batch {
  Tensor images;                      // float32 [B, 1, S, S] on LoaderOptions::device
  std::vector<int> labels;            // B target indices
  std::vector<std::int64_t> indices;  // dataset indices, B
};

class Loader {
 public:
  Loader(Dataset dataset, std::vector<std::int64_t> indices, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  std::int64_t batches_per_epoch() const;
  // Begins (prefetching) epoch `epoch` at its batch `first_batch` (a resumed run
  // skips the batches it has seen); abandons what is left of the previous epoch.
  void start_epoch(std::int64_t epoch, std::int64_t first_batch = 0);
  // The epoch's next batch, waiting for it if needed; nothing once the epoch is done.
  std::optional<Batch> next();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace cxr::data
