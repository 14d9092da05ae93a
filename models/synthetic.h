// A synthetic 4-class image task for smoke tests and the demo: grey noise with
// one bright shape whose kind is the class (0: disc on the left, 1: disc on the
// right, 2: horizontal bar, 3: vertical bar), at random positions and contrasts.
// Easy for a working CNN, impossible for a broken one: a quick end-to-end check.
#pragma once

#include "engine/random.h"
#include "engine/tensor.h"

#include <vector>

namespace cxr {

struct LabelledBatch {
  Tensor images;            // [N, 1, size, size] float32
  std::vector<int> labels;  // N class indices
};

LabelledBatch make_synthetic_batch(int n, int size, Generator& gen);

}  // namespace cxr
