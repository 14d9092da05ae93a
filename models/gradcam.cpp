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

namespace {

// The formulas of the header, over A and g [C, hw] in their own float type.
template <class T>
std::vector<double> channel_weights(const T* A, const T* g, std::int64_t C, std::int64_t hw, CamMethod method) {
  std::vector<double> weights(static_cast<std::size_t>(C), 0.0);
  for (std::int64_t k = 0; k < C; ++k) {
    const T* ak = A + k * hw;
    const T* gk = g + k * hw;
    if (method == CamMethod::GradCam) {
      double s = 0;
      for (std::int64_t i = 0; i < hw; ++i) s += gk[i];
      weights[k] = s / static_cast<double>(hw);
      continue;
    }
    double sum_A = 0;
    for (std::int64_t i = 0; i < hw; ++i) sum_A += ak[i];
    double w = 0;
    for (std::int64_t i = 0; i < hw; ++i) {
      const double gi = gk[i];
      const double g2 = gi * gi, g3 = g2 * gi;
      const double denom = 2 * g2 + sum_A * g3;
      const double alpha = denom != 0 ? g2 / denom : 0.0;
      w += alpha * std::max(gi, 0.0);
    }
    weights[k] = w;
  }
  return weights;
}

}  // namespace

std::vector<double> cam_channel_weights(const Tensor& A, const Tensor& g, CamMethod method) {
  check_same_shape("cam_channel_weights", A, g);
  check_dim("cam_channel_weights", "feature map", A, 3);
  CXR_CHECK(A.dtype() == g.dtype(), "cam_channel_weights: feature map and gradient of different types");
  const std::int64_t C = A.size(0), hw = A.size(1) * A.size(2);
  const Tensor a = A.contiguous(), gc = g.contiguous();
  std::vector<double> weights;
  dispatch_float(a.dtype(), "cam_channel_weights",
                 [&]<class T>() { weights = channel_weights(a.data<T>(), gc.data<T>(), C, hw, method); });
  return weights;
}

std::vector<Heatmap> explain_batch(ClassifierNet& net, const Tensor& images, const std::vector<CamMethod>& methods,
                                   std::vector<int> target_classes, const std::string& layer) {
  check_dim("explain", "images", images, 4);
  const std::int64_t n = images.size(0);
  CXR_CHECK(
      n >= 1 && static_cast<std::int64_t>(methods.size()) == n && static_cast<std::int64_t>(target_classes.size()) == n,
      "explain: {} images, {} methods and {} target classes", n, methods.size(), target_classes.size());
  net.eval();
  const std::string at = layer.empty() ? net.cam_layer() : layer;

  // The feature map is computed without a graph, then becomes the leaf that the
  // graph of the layers after it starts from: the backward covers only that part.
  // On the GPU the network runs there; A and g come back to the host (a few KiB)
  // and the weighting, upsampling and normalisation below run on the CPU.
  const Device device = net.device();
  Tensor features;
  {
    NoGradGuard no_grad;
    features = net.forward_until(images.to(device), at).detach();
  }
  features.set_requires_grad(true);
  EnableGradGuard record_graph;
  const Tensor logits = net.forward_after(features, at);
  const std::int64_t classes = logits.size(1);
  const Tensor probs = softmax(logits.detach()).to(Device::cpu());

  std::vector<Heatmap> maps(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    Heatmap& h = maps[i];
    for (std::int64_t c = 0; c < classes; ++c) h.probabilities.push_back(probs.at(i * classes + c));
    int& target = target_classes[i];
    if (target < 0)
      target =
          static_cast<int>(std::max_element(h.probabilities.begin(), h.probabilities.end()) - h.probabilities.begin());
    CXR_CHECK(target < classes, "explain: class {} does not exist (the model has {})", target, classes);
    h.target_class = target;
    h.layer = at;
  }

  // d(score_c)/d(features): a one-hot seed on each image's logits; no parameter
  // .grad is touched.
  Tensor seed = Tensor::zeros(logits.shape(), logits.dtype());
  dispatch_float(seed.dtype(), "explain", [&]<class T>() {
    for (std::int64_t i = 0; i < n; ++i) seed.data<T>()[i * classes + target_classes[i]] = T(1);
  });
  const Tensor grad = gradients(logits, seed.to(device), {features})[0].to(Device::cpu());
  const Tensor A_all = features.detach().to(Device::cpu());

  const std::int64_t C = features.size(1), fh = features.size(2), fw = features.size(3);
  NoGradGuard no_grad;
  for (std::int64_t i = 0; i < n; ++i) {
    Heatmap& h = maps[i];
    h.feature_map = A_all.slice_rows(i, i + 1).view({C, fh, fw});
    h.feature_grad = grad.slice_rows(i, i + 1).view({C, fh, fw});
    const std::vector<double> weights = cam_channel_weights(h.feature_map, h.feature_grad, methods[i]);

    h.coarse = Tensor::zeros({1, 1, fh, fw}, DType::F64);
    double* cam = h.coarse.data<double>();
    dispatch_float(h.feature_map.dtype(), "explain", [&]<class T>() {
      const T* a = h.feature_map.data<T>();
      for (std::int64_t k = 0; k < C; ++k)
        for (std::int64_t j = 0; j < fh * fw; ++j) cam[j] += weights[k] * static_cast<double>(a[k * fh * fw + j]);
    });
    for (std::int64_t j = 0; j < fh * fw; ++j) cam[j] = std::max(cam[j], 0.0);

    Tensor up = resize_bilinear(h.coarse, static_cast<int>(images.size(2)), static_cast<int>(images.size(3)));
    const double peak = *std::max_element(up.data<double>(), up.data<double>() + up.numel());
    if (peak > 0) {
      double* p = up.data<double>();
      for (std::int64_t j = 0; j < up.numel(); ++j) p[j] /= peak;  // divide: the peak becomes exactly 1
    }
    h.map = up.view({images.size(2), images.size(3)});
    h.coarse = h.coarse.view({fh, fw});
  }
  return maps;
}

Heatmap explain(ClassifierNet& net, const Tensor& image, CamMethod method, int target_class, const std::string& layer) {
  check_dim("explain", "image", image, 4);
  CXR_CHECK(image.size(0) == 1, "explain: expects one image, got a batch of {}", image.size(0));
  return std::move(explain_batch(net, image, {method}, {target_class}, layer)[0]);
}

}  // namespace cxr
