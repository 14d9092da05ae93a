#include "models/explain/explanation.h"

#include "engine/autograd.h"
#include "engine/ops.h"

#include <algorithm>

namespace cxr {

ScoredImage predict_one(ClassifierNet& net, const Tensor& image, int target) {
  check_dim("explain", "image", image, 4);
  CXR_CHECK(image.size(0) == 1, "explain: expects one image, got a batch of {}", image.size(0));
  net.eval();
  NoGradGuard no_grad;
  const Tensor logits = net.forward(image.to(net.device())).to(Device::cpu());
  ScoredImage p;
  p.logits = logits.to_vector();
  p.probabilities = softmax(logits).to_vector();
  const int classes = static_cast<int>(p.logits.size());
  if (target < 0) target = static_cast<int>(std::max_element(p.logits.begin(), p.logits.end()) - p.logits.begin());
  CXR_CHECK(target < classes, "explain: class {} does not exist (the model has {})", target, classes);
  p.target = target;
  return p;
}

Tensor input_gradients(ClassifierNet& net, const Tensor& images, const std::vector<int>& targets) {
  check_dim("explain", "images", images, 4);
  const std::int64_t n = images.size(0);
  CXR_CHECK(static_cast<std::int64_t>(targets.size()) == n, "explain: {} images and {} targets", n, targets.size());
  net.eval();
  Tensor x = images.to(net.device()).clone();
  x.set_requires_grad(true);
  EnableGradGuard record_graph;
  const Tensor logits = net.forward(x);
  const std::int64_t classes = logits.size(1);
  std::vector<double> seed(static_cast<std::size_t>(n * classes), 0.0);
  for (std::int64_t i = 0; i < n; ++i) seed[i * classes + targets[i]] = 1.0;
  const Tensor grad_root = Tensor::from_vector(seed, logits.shape(), logits.dtype()).to(net.device());
  return gradients(logits, grad_root, {x})[0].to(Device::cpu());
}

std::vector<double> batched_scores(ClassifierNet& net, const Tensor& like, std::int64_t count, int target, int batch,
                                   const std::function<void(std::int64_t, double*)>& fill) {
  CXR_CHECK(batch >= 1, "explain: batch size {} (expected at least 1)", batch);
  net.eval();
  NoGradGuard no_grad;
  const std::int64_t per_image = like.numel();
  std::vector<double> scores;
  for (std::int64_t first = 0; first < count; first += batch) {
    const std::int64_t n = std::min<std::int64_t>(batch, count - first);
    std::vector<double> pixels(static_cast<std::size_t>(n * per_image));
    for (std::int64_t i = 0; i < n; ++i) fill(first + i, pixels.data() + i * per_image);
    const Tensor images =
        Tensor::from_vector(pixels, {n, like.size(1), like.size(2), like.size(3)}, like.dtype()).to(net.device());
    const Tensor logits = net.forward(images).to(Device::cpu());
    for (std::int64_t i = 0; i < n; ++i) scores.push_back(logits.at(i * logits.size(1) + target));
  }
  return scores;
}

Tensor rectified_map(std::vector<double> values, std::int64_t height, std::int64_t width) {
  CXR_CHECK(static_cast<std::int64_t>(values.size()) == height * width, "explain: {} values for a {}x{} map",
            values.size(), height, width);
  double peak = 0;
  for (double& v : values) {
    v = std::max(v, 0.0);
    peak = std::max(peak, v);
  }
  if (peak > 0)
    for (double& v : values) v /= peak;  // divide: the peak becomes exactly 1
  return Tensor::from_vector(values, {height, width}, DType::F64);
}

std::vector<double> upsample(const std::vector<double>& coarse, std::int64_t h, std::int64_t w, std::int64_t H,
                             std::int64_t W) {
  NoGradGuard no_grad;
  const Tensor c = Tensor::from_vector(coarse, {1, 1, h, w}, DType::F64);
  return resize_bilinear(c, static_cast<int>(H), static_cast<int>(W)).to_vector();
}

Tensor pooled_grid(const Tensor& map, std::int64_t cell) {
  check_dim("pooled_grid", "map", map, 2);
  CXR_CHECK(cell >= 1, "pooled_grid: cell {} (expected at least 1)", cell);
  const std::int64_t H = map.size(0), W = map.size(1);
  const std::int64_t h = (H + cell - 1) / cell, w = (W + cell - 1) / cell;
  std::vector<double> sums(static_cast<std::size_t>(h * w), 0.0), counts(sums.size(), 0.0);
  const std::vector<double> m = map.to_vector();
  for (std::int64_t y = 0; y < H; ++y)
    for (std::int64_t x = 0; x < W; ++x) {
      sums[(y / cell) * w + x / cell] += m[y * W + x];
      counts[(y / cell) * w + x / cell] += 1;
    }
  for (std::size_t j = 0; j < sums.size(); ++j) sums[j] /= counts[j];
  return rectified_map(std::move(sums), h, w);
}

}  // namespace cxr
