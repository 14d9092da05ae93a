#include "models/explain/gradient_attribution.h"

#include "engine/random.h"

#include <algorithm>
#include <cmath>

namespace cxr {

namespace {

const char* method_name(GradientMethod method) {
  switch (method) {
    case GradientMethod::Saliency: return "saliency";
    case GradientMethod::InputXGradient: return "inputxgrad";
    case GradientMethod::IntegratedGradients: return "integrated-gradients";
  }
  return "";
}

// Integrated Gradients' per-element attribution (x - 0) * mean gradient, summed over channels.
std::vector<double> integrated_gradients(ClassifierNet& net, const Tensor& image, int target,
                                         const ExplainSettings& settings,
                                         std::vector<std::pair<std::string, double>>* facts) {
  CXR_CHECK(settings.ig_steps >= 1, "integrated gradients: {} steps (expected at least 1)", settings.ig_steps);
  CXR_CHECK(settings.batch >= 1, "explain: batch size {} (expected at least 1)", settings.batch);
  const std::int64_t in = image.size(1), H = image.size(2), W = image.size(3), per_image = in * H * W;
  const std::vector<double> x = image.to(Device::cpu()).to_vector();
  std::vector<double> mean_grad(static_cast<std::size_t>(per_image), 0.0);
  const int m = settings.ig_steps;
  for (int first = 0; first < m; first += settings.batch) {
    const int n = std::min(settings.batch, m - first);
    std::vector<double> path(static_cast<std::size_t>(n * per_image));
    for (int i = 0; i < n; ++i) {
      const double alpha = (first + i + 0.5) / m;
      for (std::int64_t j = 0; j < per_image; ++j) path[i * per_image + j] = alpha * x[j];
    }
    const Tensor batch = Tensor::from_vector(path, {n, in, H, W}, image.dtype());
    const std::vector<double> g =
        input_gradients(net, batch, std::vector<int>(static_cast<std::size_t>(n), target)).to_vector();
    for (int i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < per_image; ++j) mean_grad[j] += g[i * per_image + j] / m;
  }
  std::vector<double> attribution(static_cast<std::size_t>(H * W), 0.0);
  double total = 0;
  for (std::int64_t c = 0; c < in; ++c)
    for (std::int64_t j = 0; j < H * W; ++j) {
      const double a = x[c * H * W + j] * mean_grad[c * H * W + j];
      attribution[j] += a;
      total += a;
    }
  if (facts) {
    const std::vector<double> ends = batched_scores(net, image, 2, target, 2, [&](std::int64_t i, double* out) {
      for (std::int64_t j = 0; j < per_image; ++j) out[j] = i == 0 ? x[j] : 0.0;
    });
    const double difference = ends[0] - ends[1];
    facts->emplace_back("ig_steps", m);
    facts->emplace_back("score_difference", difference);
    facts->emplace_back("completeness_error", std::abs(total - difference));
  }
  return attribution;
}

}  // namespace

std::vector<double> raw_attribution(ClassifierNet& net, const Tensor& image, int target, GradientMethod method,
                                    const ExplainSettings& settings,
                                    std::vector<std::pair<std::string, double>>* facts) {
  if (method == GradientMethod::IntegratedGradients) return integrated_gradients(net, image, target, settings, facts);
  return raw_attributions(net, image, target, method, settings).front();
}

std::vector<std::vector<double>> raw_attributions(ClassifierNet& net, const Tensor& images, int target,
                                                  GradientMethod method, const ExplainSettings& settings) {
  const std::int64_t n = images.size(0), in = images.size(1), H = images.size(2), W = images.size(3);
  if (method == GradientMethod::IntegratedGradients) {
    std::vector<std::vector<double>> out;
    for (std::int64_t i = 0; i < n; ++i)
      out.push_back(integrated_gradients(net, images.slice_rows(i, i + 1).contiguous(), target, settings, nullptr));
    return out;
  }
  const std::vector<double> g =
      input_gradients(net, images, std::vector<int>(static_cast<std::size_t>(n), target)).to_vector();
  const std::vector<double> x = images.to(Device::cpu()).to_vector();
  std::vector<std::vector<double>> out(static_cast<std::size_t>(n),
                                       std::vector<double>(static_cast<std::size_t>(H * W), 0.0));
  for (std::int64_t i = 0; i < n; ++i) {
    std::vector<double>& attribution = out[i];
    const std::int64_t first = i * in * H * W;
    for (std::int64_t c = 0; c < in; ++c)
      for (std::int64_t j = 0; j < H * W; ++j) {
        const double gj = g[first + c * H * W + j];
        if (method == GradientMethod::Saliency)
          attribution[j] = std::max(attribution[j], std::abs(gj));
        else
          attribution[j] += x[first + c * H * W + j] * gj;
      }
  }
  return out;
}

Explanation gradient_explanation(ClassifierNet& net, const Tensor& image, int target, GradientMethod method,
                                 const ExplainSettings& settings) {
  const ScoredImage scored = predict_one(net, image, target);
  const std::int64_t H = image.size(2), W = image.size(3);
  Explanation e;
  e.method = method_name(method);
  e.target_class = scored.target;
  e.probabilities = scored.probabilities;
  std::vector<double> attribution;
  if (settings.smoothgrad_samples <= 0) {
    attribution = raw_attribution(net, image, scored.target, method, settings, &e.facts);
  } else {
    CXR_CHECK(settings.smoothgrad_sigma >= 0, "smoothgrad: noise level {} (expected >= 0)", settings.smoothgrad_sigma);
    e.method = "smoothgrad-" + e.method;
    const Tensor x = image.to(Device::cpu()).contiguous();
    const std::vector<double> clean = x.to_vector();
    const auto [lo, hi] = std::minmax_element(clean.begin(), clean.end());
    const double sd = settings.smoothgrad_sigma * (*hi - *lo);
    Generator gen(settings.seed);
    attribution.assign(static_cast<std::size_t>(H * W), 0.0);
    // The noisy copies are drawn in order and, but for Integrated Gradients (batched
    // inside), go through the net `settings.batch` at a time.
    const int samples = settings.smoothgrad_samples;
    const int batch = method == GradientMethod::IntegratedGradients ? 1 : settings.batch;
    CXR_CHECK(batch >= 1, "explain: batch size {} (expected at least 1)", batch);
    const std::int64_t per_image = static_cast<std::int64_t>(clean.size());
    for (int first = 0; first < samples; first += batch) {
      const int n = std::min(batch, samples - first);
      std::vector<double> noisy(static_cast<std::size_t>(n * per_image));
      for (int i = 0; i < n; ++i)
        for (std::int64_t j = 0; j < per_image; ++j) noisy[i * per_image + j] = clean[j] + sd * gen.normal();
      const Tensor copies = Tensor::from_vector(noisy, {n, x.size(1), H, W}, x.dtype());
      for (const std::vector<double>& a : raw_attributions(net, copies, scored.target, method, settings))
        for (std::int64_t j = 0; j < H * W; ++j) attribution[j] += a[j] / samples;
    }
    e.facts.emplace_back("smoothgrad_samples", settings.smoothgrad_samples);
    e.facts.emplace_back("smoothgrad_sigma", settings.smoothgrad_sigma);
  }
  e.map = rectified_map(std::move(attribution), H, W);
  e.grid = pooled_grid(e.map, std::max<std::int64_t>(1, H / 16));
  return e;
}

}  // namespace cxr
