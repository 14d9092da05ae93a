#include "models/gradcam.h"

#include "engine/autograd.h"
#include "engine/ops.h"

#include <algorithm>
#include <cmath>

namespace cxr {

CamMethod parse_cam_method(const std::string& name) {
  if (name == "gradcam") return CamMethod::GradCam;
  if (name == "gradcam++") return CamMethod::GradCamPlusPlus;
  throw Error(fmt::format("unknown explanation method '{}': expected gradcam or gradcam++", name));
}

std::string cam_method_name(CamMethod method) {
  return method == CamMethod::GradCam ? "gradcam" : "gradcam++";
}

std::vector<double> cam_channel_weights(const Tensor& A, const Tensor& g, CamMethod method) {
  check_same_shape("cam_channel_weights", A, g);
  check_dim("cam_channel_weights", "feature map", A, 3);
  const std::int64_t C = A.size(0), hw = A.size(1) * A.size(2);
  std::vector<double> weights(static_cast<std::size_t>(C), 0.0);
  for (std::int64_t k = 0; k < C; ++k) {
    if (method == CamMethod::GradCam) {
      double s = 0;
      for (std::int64_t i = 0; i < hw; ++i) s += g.at(k * hw + i);
      weights[k] = s / static_cast<double>(hw);
      continue;
    }
    double sum_A = 0;
    for (std::int64_t i = 0; i < hw; ++i) sum_A += A.at(k * hw + i);
    double w = 0;
    for (std::int64_t i = 0; i < hw; ++i) {
      const double gi = g.at(k * hw + i);
      const double g2 = gi * gi, g3 = g2 * gi;
      const double denom = 2 * g2 + sum_A * g3;
      const double alpha = denom != 0 ? g2 / denom : 0.0;
      w += alpha * std::max(gi, 0.0);
    }
    weights[k] = w;
  }
  return weights;
}

std::string default_cam_layer(const ClassifierNet& net) {
  // Layers are "stem", then "blocks.<i>" for config().blocks[i] (models/depthwise_net.h).
  const auto names = net.layer_names();
  const auto& blocks = net.config().blocks;
  for (std::size_t i = blocks.size(); i-- > 0;) {
    if (blocks[i].kind == BlockKind::max_pool) continue;
    const std::string name = "blocks." + std::to_string(i);
    if (std::find(names.begin(), names.end(), name) != names.end()) return name;
    break;
  }
  return names.back();
}

Heatmap explain(ClassifierNet& net, const Tensor& image, CamMethod method, int target_class,
                const std::string& layer) {
  check_dim("explain", "image", image, 4);
  CXR_CHECK(image.size(0) == 1, "explain: expects one image, got a batch of {}", image.size(0));
  net.eval();
  const std::string at = layer.empty() ? default_cam_layer(net) : layer;

  // The feature map is computed without a graph, then becomes the leaf that the
  // graph of the layers after it starts from: the backward covers only that part.
  // On the GPU the network runs there; A and g come back to the host (a few KiB)
  // and the weighting, upsampling and normalisation below run on the CPU.
  const Device device = net.device();
  Tensor features;
  {
    NoGradGuard no_grad;
    features = net.forward_until(image.to(device), at).detach();
  }
  features.set_requires_grad(true);
  EnableGradGuard record_graph;
  const Tensor logits = net.forward_after(features, at);
  const std::int64_t classes = logits.size(1);

  Heatmap h;
  const Tensor probs = softmax(logits.detach()).to(Device::cpu());
  for (std::int64_t c = 0; c < classes; ++c) h.probabilities.push_back(probs.at(c));
  if (target_class < 0)
    target_class = static_cast<int>(std::max_element(h.probabilities.begin(), h.probabilities.end()) -
                                    h.probabilities.begin());
  CXR_CHECK(target_class < classes, "explain: class {} does not exist (the model has {})",
            target_class, classes);
  h.target_class = target_class;
  h.layer = at;

  // d(score_c)/d(features): a one-hot seed on the logits; no parameter .grad is touched.
  Tensor seed = Tensor::zeros(logits.shape(), logits.dtype());
  dispatch_float(seed.dtype(), "explain", [&]<class T>() { seed.data<T>()[target_class] = T(1); });
  const Tensor grad = gradients(logits, seed.to(device), {features})[0];

  const std::int64_t C = features.size(1), fh = features.size(2), fw = features.size(3);
  h.feature_map = features.detach().to(Device::cpu()).view({C, fh, fw});
  h.feature_grad = grad.to(Device::cpu()).view({C, fh, fw});
  const std::vector<double> weights = cam_channel_weights(h.feature_map, h.feature_grad, method);

  h.coarse = Tensor::zeros({1, 1, fh, fw}, DType::F64);
  double* cam = h.coarse.data<double>();
  for (std::int64_t k = 0; k < C; ++k)
    for (std::int64_t i = 0; i < fh * fw; ++i) cam[i] += weights[k] * h.feature_map.at(k * fh * fw + i);
  for (std::int64_t i = 0; i < fh * fw; ++i) cam[i] = std::max(cam[i], 0.0);

  NoGradGuard no_grad;
  Tensor up = resize_bilinear(h.coarse, static_cast<int>(image.size(2)), static_cast<int>(image.size(3)));
  const double peak = *std::max_element(up.data<double>(), up.data<double>() + up.numel());
  if (peak > 0) {
    double* p = up.data<double>();
    for (std::int64_t i = 0; i < up.numel(); ++i) p[i] /= peak;  // divide: the peak becomes exactly 1
  }
  h.map = up.view({image.size(2), image.size(3)});
  h.coarse = h.coarse.view({fh, fw});

  return h;
}

}  // namespace cxr
