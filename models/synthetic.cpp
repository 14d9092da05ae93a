#include "models/synthetic.h"

#include <cmath>

namespace cxr {

LabelledBatch make_synthetic_batch(int n, int size, Generator& gen) {
  LabelledBatch batch{Tensor::empty({n, 1, size, size}), std::vector<int>(n)};
  float* px = batch.images.data<float>();
  for (int i = 0; i < n; ++i) {
    const int label = static_cast<int>(gen.below(4));
    batch.labels[i] = label;
    const double contrast = gen.uniform(0.8, 1.5);
    const double cx = (label == 0   ? gen.uniform(0.15, 0.4)
                       : label == 1 ? gen.uniform(0.6, 0.85)
                                    : gen.uniform(0.3, 0.7)) *
                      size;
    const double cy = gen.uniform(0.3, 0.7) * size;
    const double r = gen.uniform(0.1, 0.18) * size;
    float* img = px + static_cast<std::int64_t>(i) * size * size;
    for (int y = 0; y < size; ++y) {
      for (int x = 0; x < size; ++x) {
        bool inside;
        if (label <= 1) {
          inside = (x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r;
        } else if (label == 2) {
          inside = std::abs(y - cy) < r * 0.35 && std::abs(x - cx) < r * 2;
        } else {
          inside = std::abs(x - cx) < r * 0.35 && std::abs(y - cy) < r * 2;
        }
        img[y * size + x] = static_cast<float>(0.3 * gen.normal() + (inside ? contrast : 0.0));
      }
    }
  }
  return batch;
}

}  // namespace cxr
