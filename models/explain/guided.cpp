#include "models/explain/guided.h"

#include "engine/relu_backward.h"
#include "models/explain/cam_family.h"

namespace cxr {

namespace {

// The guided gradient summed over the input channels, [H * W].
std::vector<double> guided_pixels(ClassifierNet& net, const Tensor& image, int target) {
  const std::int64_t in = image.size(1), HW = image.size(2) * image.size(3);
  const std::vector<double> g = guided_input_gradients(net, image, {target}).to_vector();
  std::vector<double> pixels(static_cast<std::size_t>(HW), 0.0);
  for (std::int64_t c = 0; c < in; ++c)
    for (std::int64_t j = 0; j < HW; ++j) pixels[j] += g[c * HW + j];
  return pixels;
}

Explanation pixel_explanation(const std::string& method, const ScoredImage& scored, std::vector<double> pixels,
                              const Tensor& image) {
  const std::int64_t H = image.size(2), W = image.size(3);
  Explanation e;
  e.method = method;
  e.target_class = scored.target;
  e.probabilities = scored.probabilities;
  e.map = rectified_map(std::move(pixels), H, W);
  e.grid = pooled_grid(e.map, std::max<std::int64_t>(1, H / 16));
  return e;
}

}  // namespace

Tensor guided_input_gradients(ClassifierNet& net, const Tensor& images, const std::vector<int>& targets) {
  GuidedReluScope guided;  // the forward pass records the guided rule; the backward applies it
  return input_gradients(net, images, targets);
}

Explanation guided_backprop(ClassifierNet& net, const Tensor& image, int target, const ExplainSettings&) {
  const ScoredImage scored = predict_one(net, image, target);
  return pixel_explanation("guided-backprop", scored, guided_pixels(net, image, scored.target), image);
}

Explanation guided_gradcam(ClassifierNet& net, const Tensor& image, int target, const ExplainSettings& settings) {
  const ScoredImage scored = predict_one(net, image, target);
  const Explanation cam = gradcam_explanation(net, image, scored.target, settings);
  std::vector<double> pixels = guided_pixels(net, image, scored.target);
  const std::vector<double> weights = cam.map.to_vector();
  for (std::size_t j = 0; j < pixels.size(); ++j) pixels[j] *= weights[j];
  Explanation e = pixel_explanation("guided-gradcam", scored, std::move(pixels), image);
  e.layer = cam.layer;
  return e;
}

}  // namespace cxr
