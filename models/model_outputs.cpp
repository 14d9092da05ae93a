#include "models/model_outputs.h"

#include "engine/autograd.h"
#include "engine/ops.h"
#include "models/dataset_eval.h"

namespace cxr {

namespace {

void append_rows(std::vector<double>& out, const Tensor& t) {
  const Tensor d = t.to(Device::cpu()).to(DType::F64).contiguous();
  out.insert(out.end(), d.data<double>(), d.data<double>() + d.numel());
}

// Cell (r, c) of the grid covers rows [r S / G, (r + 1) S / G) and the same columns.
void append_thumbnails(std::vector<double>& out, const Tensor& batch) {
  const Tensor x = batch.to(Device::cpu()).to(DType::F64).contiguous();
  const std::int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  const double* p = x.data<double>();
  constexpr int g = kThumbnailSide;
  for (std::int64_t i = 0; i < n; ++i)
    for (int r = 0; r < g; ++r)
      for (int c = 0; c < g; ++c) {
        const std::int64_t y0 = r * h / g, y1 = (r + 1) * h / g, x0 = c * w / g, x1 = (c + 1) * w / g;
        double sum = 0;
        for (std::int64_t y = y0; y < y1; ++y)
          for (std::int64_t q = x0; q < x1; ++q) sum += p[(i * h + y) * w + q];
        out.push_back(sum / static_cast<double>((y1 - y0) * (x1 - x0)));
      }
}

void append_statistics(std::vector<double>& out, const Tensor& batch) {
  const Tensor x = batch.to(Device::cpu()).to(DType::F64).contiguous();
  const std::int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  for (std::int64_t i = 0; i < n; ++i) append_image_statistics(out, x.data<double>() + i * h * w, h, w);
}

}  // namespace

void ModelOutputs::append(const ModelOutputs& more) {
  if (classes == 0) classes = more.classes, features = more.features;
  CXR_CHECK(classes == more.classes && features == more.features, "model outputs: {}x{} rows appended to {}x{}",
            more.classes, more.features, classes, features);
  logits.insert(logits.end(), more.logits.begin(), more.logits.end());
  probabilities.insert(probabilities.end(), more.probabilities.begin(), more.probabilities.end());
  thumbnail.insert(thumbnail.end(), more.thumbnail.begin(), more.thumbnail.end());
  pooled.insert(pooled.end(), more.pooled.begin(), more.pooled.end());
  statistics.insert(statistics.end(), more.statistics.begin(), more.statistics.end());
}

ModelOutputs model_outputs(ClassifierNet& net, const Tensor& batch, double temperature) {
  CXR_CHECK(temperature > 0, "model outputs: temperature {} is not positive", temperature);
  check_dim("model outputs", "batch", batch, 4);
  CXR_CHECK(batch.size(1) == 1 && batch.size(2) >= kThumbnailSide && batch.size(3) >= kThumbnailSide,
            "model outputs: a batch of grey images at least {} px a side, got {}", kThumbnailSide,
            shape_str(batch.shape()));
  net.eval();
  NoGradGuard no_grad;
  const Tensor features = net.features(batch.to(net.device()));
  const Tensor pooled = global_avg_pool2d(features);
  const Tensor logits = net.head(features);
  ModelOutputs out;
  out.classes = static_cast<int>(logits.size(1));
  out.features = static_cast<int>(pooled.size(1));
  append_rows(out.logits, logits);
  append_rows(out.probabilities, softmax(temperature == 1.0 ? logits : mul_scalar(logits, 1.0 / temperature)));
  append_rows(out.pooled, pooled);
  append_thumbnails(out.thumbnail, batch);
  append_statistics(out.statistics, batch);
  return out;
}

ModelOutputs dataset_outputs(ClassifierNet& net, const ModelInfo& info, const data::Dataset& dataset,
                             std::span<const std::int64_t> indices, int batch,
                             const std::function<void(std::int64_t)>& progress) {
  ModelOutputs out;
  for_each_batch(info, dataset, indices, batch, [&](const Tensor& x, std::size_t done) {
    out.append(model_outputs(net, x));
    if (progress) progress(static_cast<std::int64_t>(done));
  });
  return out;
}

}  // namespace cxr
