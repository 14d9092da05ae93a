#include "models/dataset_eval.h"

#include "engine/autograd.h"
#include "engine/data/augment.h"
#include "engine/ops.h"
#include "models/inference.h"

#include <algorithm>

namespace cxr {

void for_each_batch(const ModelInfo& info, const data::Dataset& dataset, std::span<const std::int64_t> indices,
                    int batch, const std::function<void(const Tensor&, std::size_t done)>& fn) {
  CXR_CHECK(batch > 0, "dataset evaluation: batch must be positive, got {}", batch);
  const int s = dataset.image_size();
  const int input = info.config.input_size;
  for (std::size_t begin = 0; begin < indices.size(); begin += static_cast<std::size_t>(batch)) {
    const std::size_t n = std::min(indices.size() - begin, static_cast<std::size_t>(batch));
    Tensor x = Tensor::empty({static_cast<std::int64_t>(n), 1, s, s});
    for (std::size_t j = 0; j < n; ++j)
      data::normalize_image(x.data<float>() + j * s * s, dataset.pixels(indices[begin + j]), std::int64_t{s} * s,
                            info.mean, info.stddev);
    if (s != input) {  // trained at another size: resized as the trainer does
      NoGradGuard no_grad;
      x = resize_bilinear(x, input, input);
    }
    fn(x, begin + n);
  }
}

std::vector<double> dataset_probabilities(ClassifierNet& net, const ModelInfo& info, const data::Dataset& dataset,
                                          std::span<const std::int64_t> indices, int batch,
                                          const std::function<void(std::int64_t)>& progress) {
  std::vector<double> out;
  out.reserve(indices.size() * info.class_names.size());
  for_each_batch(info, dataset, indices, batch, [&](const Tensor& x, std::size_t done) {
    for (const auto& p : predict_probabilities(net, x)) out.insert(out.end(), p.begin(), p.end());
    if (progress) progress(static_cast<std::int64_t>(done));
  });
  return out;
}

std::vector<double> dataset_features(ClassifierNet& net, const ModelInfo& info, const data::Dataset& dataset,
                                     std::span<const std::int64_t> indices, int batch,
                                     const std::function<void(std::int64_t)>& progress) {
  net.eval();
  NoGradGuard no_grad;
  std::vector<double> out;
  for_each_batch(info, dataset, indices, batch, [&](const Tensor& x, std::size_t done) {
    const Tensor pooled = global_avg_pool2d(net.features(x.to(net.device()))).to(Device::cpu()).contiguous();
    const float* p = pooled.data<float>();
    out.insert(out.end(), p, p + pooled.numel());
    if (progress) progress(static_cast<std::int64_t>(done));
  });
  return out;
}

DatasetEvaluation evaluate_on_dataset(ClassifierNet& net, const ModelInfo& info, const data::Dataset& dataset,
                                      std::span<const std::int64_t> indices, int batch,
                                      const std::function<void(std::int64_t)>& progress) {
  DatasetEvaluation e;
  e.probabilities = dataset_probabilities(net, info, dataset, indices, batch, progress);
  std::vector<ImageOrigin> origins;
  for (auto i : indices) {
    const auto& row = dataset.row(i);
    e.targets.push_back(row.label);
    origins.push_back({row.source, row.age_group, row.label});
  }
  const int classes = static_cast<int>(info.class_names.size());
  e.report = classification_report(e.probabilities, e.targets, info.class_names);
  e.by_source_and_age = shortcut_report(e.probabilities, origins, classes);
  return e;
}

}  // namespace cxr
