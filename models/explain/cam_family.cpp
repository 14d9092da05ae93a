#include "models/explain/cam_family.h"

#include "models/gradcam.h"

#include <algorithm>
#include <cmath>

namespace cxr {

namespace {

// A and g of one image at `layer`, with the class resolved: Grad-CAM computes them.
Heatmap activations(ClassifierNet& net, const Tensor& image, int target, const std::string& layer) {
  return explain(net, image, CamMethod::GradCam, target, layer);
}

Explanation from_heatmap(const Heatmap& h, const std::string& method) {
  Explanation e;
  e.method = method;
  e.layer = h.layer;
  e.target_class = h.target_class;
  e.probabilities = h.probabilities;
  return e;
}

// The coarse map [h, w] -> e.map and e.grid: ReLU before upsampling, as Grad-CAM
// (models/gradcam.cpp) and pytorch-grad-cam do.
void finish(Explanation& e, std::vector<double> coarse, std::int64_t h, std::int64_t w, const Tensor& image) {
  const std::int64_t H = image.size(2), W = image.size(3);
  for (double& v : coarse) v = std::max(v, 0.0);
  e.map = rectified_map(upsample(coarse, h, w, H, W), H, W);
  e.grid = rectified_map(std::move(coarse), h, w);
}

// sum_k weight_k A_k over [C, hw].
std::vector<double> weighted_sum(const std::vector<double>& A, const std::vector<double>& weights, std::int64_t hw) {
  std::vector<double> cam(static_cast<std::size_t>(hw), 0.0);
  for (std::size_t k = 0; k < weights.size(); ++k)
    for (std::int64_t j = 0; j < hw; ++j) cam[j] += weights[k] * A[k * hw + j];
  return cam;
}

Explanation cam_from_weights(const Heatmap& h, const std::vector<double>& weights, const std::string& method,
                             const Tensor& image) {
  Explanation e = from_heatmap(h, method);
  const std::int64_t fh = h.feature_map.size(1), fw = h.feature_map.size(2);
  finish(e, weighted_sum(h.feature_map.to_vector(), weights, fh * fw), fh, fw, image);
  return e;
}

}  // namespace

Explanation gradcam_explanation(ClassifierNet& net, const Tensor& image, int target, const ExplainSettings& settings) {
  const Heatmap h = activations(net, image, target, settings.layer);
  return cam_from_weights(h, cam_channel_weights(h.feature_map, h.feature_grad, CamMethod::GradCam), "gradcam", image);
}

Explanation gradcam_pp_explanation(ClassifierNet& net, const Tensor& image, int target,
                                   const ExplainSettings& settings) {
  const Heatmap h = activations(net, image, target, settings.layer);
  return cam_from_weights(h, cam_channel_weights(h.feature_map, h.feature_grad, CamMethod::GradCamPlusPlus),
                          "gradcam++", image);
}

Explanation hirescam(ClassifierNet& net, const Tensor& image, int target, const ExplainSettings& settings) {
  const Heatmap h = activations(net, image, target, settings.layer);
  const std::int64_t C = h.feature_map.size(0), fh = h.feature_map.size(1), fw = h.feature_map.size(2);
  const std::vector<double> A = h.feature_map.to_vector(), g = h.feature_grad.to_vector();
  std::vector<double> cam(static_cast<std::size_t>(fh * fw), 0.0);
  for (std::int64_t k = 0; k < C; ++k)
    for (std::int64_t j = 0; j < fh * fw; ++j) cam[j] += g[k * fh * fw + j] * A[k * fh * fw + j];
  Explanation e = from_heatmap(h, "hirescam");
  finish(e, std::move(cam), fh, fw, image);
  return e;
}

Explanation xgradcam(ClassifierNet& net, const Tensor& image, int target, const ExplainSettings& settings) {
  const Heatmap h = activations(net, image, target, settings.layer);
  const std::int64_t C = h.feature_map.size(0), hw = h.feature_map.size(1) * h.feature_map.size(2);
  const std::vector<double> A = h.feature_map.to_vector(), g = h.feature_grad.to_vector();
  std::vector<double> weights(static_cast<std::size_t>(C), 0.0);
  for (std::int64_t k = 0; k < C; ++k) {
    double sum_A = 0, sum_Ag = 0;
    for (std::int64_t j = 0; j < hw; ++j) {
      sum_A += A[k * hw + j];
      sum_Ag += A[k * hw + j] * g[k * hw + j];
    }
    weights[k] = sum_A != 0 ? sum_Ag / sum_A : 0.0;
  }
  return cam_from_weights(h, weights, "xgradcam", image);
}

Explanation layercam(ClassifierNet& net, const Tensor& image, int target, const ExplainSettings& settings) {
  std::vector<std::string> layers = settings.layers;
  if (layers.empty()) {
    const auto names = net.layer_names();
    layers.assign(names.end() - std::min<std::ptrdiff_t>(3, static_cast<std::ptrdiff_t>(names.size())), names.end());
  }
  const std::int64_t H = image.size(2), W = image.size(3);
  std::vector<double> fused(static_cast<std::size_t>(H * W), 0.0);
  Explanation e;
  for (const std::string& layer : layers) {
    const Heatmap h = activations(net, image, target, layer);
    const std::int64_t C = h.feature_map.size(0), fh = h.feature_map.size(1), fw = h.feature_map.size(2);
    const std::vector<double> A = h.feature_map.to_vector(), g = h.feature_grad.to_vector();
    std::vector<double> cam(static_cast<std::size_t>(fh * fw), 0.0);
    for (std::int64_t k = 0; k < C; ++k)
      for (std::int64_t j = 0; j < fh * fw; ++j) cam[j] += std::max(g[k * fh * fw + j], 0.0) * A[k * fh * fw + j];
    for (double& v : cam) v = std::max(v, 0.0);
    const Tensor up = rectified_map(upsample(cam, fh, fw, H, W), H, W);
    const double* u = up.data<double>();
    for (std::int64_t j = 0; j < H * W; ++j) fused[j] += u[j] / static_cast<double>(layers.size());
    if (e.method.empty()) {
      e = from_heatmap(h, "layercam");
      e.layer.clear();
    }
    e.layer += (e.layer.empty() ? "" : "+") + layer;
  }
  e.map = rectified_map(fused, H, W);
  e.grid = pooled_grid(e.map, std::max<std::int64_t>(1, H / 16));
  return e;
}

Explanation scorecam(ClassifierNet& net, const Tensor& image, int target, const ExplainSettings& settings) {
  const Heatmap h = activations(net, image, target, settings.layer);
  const std::int64_t C = h.feature_map.size(0), fh = h.feature_map.size(1), fw = h.feature_map.size(2);
  const std::int64_t in = image.size(1), H = image.size(2), W = image.size(3);
  const std::vector<double> A = h.feature_map.to_vector(), x = image.to(Device::cpu()).to_vector();
  const std::vector<double> scores =
      batched_scores(net, image, C, h.target_class, settings.batch, [&](std::int64_t k, double* out) {
        const std::vector<double> channel(A.begin() + k * fh * fw, A.begin() + (k + 1) * fh * fw);
        const std::vector<double> mask = upsample(channel, fh, fw, H, W);
        const auto [lo, hi] = std::minmax_element(mask.begin(), mask.end());
        const double range = *hi - *lo;
        for (std::int64_t c = 0; c < in; ++c)
          for (std::int64_t j = 0; j < H * W; ++j)
            out[c * H * W + j] = x[c * H * W + j] * (range > 0 ? (mask[j] - *lo) / range : 0.0);
      });
  // Softmax over the channels, shifted by the largest score for range.
  const double top = *std::max_element(scores.begin(), scores.end());
  std::vector<double> weights(scores.size());
  double total = 0;
  for (std::size_t k = 0; k < scores.size(); ++k) total += weights[k] = std::exp(scores[k] - top);
  for (double& w : weights) w /= total;
  return cam_from_weights(h, weights, "scorecam", image);
}

std::vector<double> first_principal_component(const std::vector<double>& X, std::int64_t rows, std::int64_t cols) {
  CXR_CHECK(rows >= 1 && cols >= 1 && static_cast<std::int64_t>(X.size()) == rows * cols,
            "first_principal_component: {} values for {}x{}", X.size(), rows, cols);
  std::vector<double> mean(static_cast<std::size_t>(cols), 0.0);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) mean[c] += X[r * cols + c] / static_cast<double>(rows);
  std::vector<double> cov(static_cast<std::size_t>(cols * cols), 0.0);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t a = 0; a < cols; ++a)
      for (std::int64_t b = 0; b < cols; ++b)
        cov[a * cols + b] += (X[r * cols + a] - mean[a]) * (X[r * cols + b] - mean[b]);
  // Power iteration from the all-ones direction; stops when the direction moves by
  // less than 1e-13 (float64 round-off is ~1e-16 a step) or after 2000 steps.
  std::vector<double> v(static_cast<std::size_t>(cols), 1.0 / std::sqrt(static_cast<double>(cols))), next(v.size());
  for (int step = 0; step < 2000; ++step) {
    double norm = 0;
    for (std::int64_t a = 0; a < cols; ++a) {
      next[a] = 0;
      for (std::int64_t b = 0; b < cols; ++b) next[a] += cov[a * cols + b] * v[b];
      norm += next[a] * next[a];
    }
    norm = std::sqrt(norm);
    if (norm == 0) break;  // no variance: every direction is as good
    double moved = 0;
    for (std::int64_t a = 0; a < cols; ++a) {
      next[a] /= norm;
      moved = std::max(moved, std::abs(next[a] - v[a]));
    }
    v.swap(next);
    if (moved < 1e-13) break;
  }
  double projected = 0;
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t c = 0; c < cols; ++c) projected += X[r * cols + c] * v[c];
  if (projected < 0)
    for (double& x : v) x = -x;
  return v;
}

Explanation eigencam(ClassifierNet& net, const Tensor& image, int target, const ExplainSettings& settings) {
  const Heatmap h = activations(net, image, target, settings.layer);
  const std::int64_t C = h.feature_map.size(0), fh = h.feature_map.size(1), fw = h.feature_map.size(2);
  const std::vector<double> A = h.feature_map.to_vector();
  std::vector<double> X(static_cast<std::size_t>(fh * fw * C));  // positions x channels
  for (std::int64_t k = 0; k < C; ++k)
    for (std::int64_t j = 0; j < fh * fw; ++j) X[j * C + k] = A[k * fh * fw + j];
  const std::vector<double> v = first_principal_component(X, fh * fw, C);
  std::vector<double> cam(static_cast<std::size_t>(fh * fw), 0.0);
  for (std::int64_t j = 0; j < fh * fw; ++j)
    for (std::int64_t k = 0; k < C; ++k) cam[j] += X[j * C + k] * v[k];
  Explanation e = from_heatmap(h, "eigencam");
  finish(e, std::move(cam), fh, fw, image);
  return e;
}

}  // namespace cxr
