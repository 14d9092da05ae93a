#include "models/explain/registry.h"

#include "models/explain/cam_family.h"
#include "models/explain/gradient_attribution.h"
#include "models/explain/guided.h"
#include "models/explain/occlusion.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace cxr {

namespace {

auto gradient(GradientMethod method) {
  return [method](ClassifierNet& net, const Tensor& image, int target, const ExplainSettings& settings) {
    return gradient_explanation(net, image, target, method, settings);
  };
}

// SmoothGrad of the saliency map, with 16 samples when none are asked for.
Explanation smoothgrad(ClassifierNet& net, const Tensor& image, int target, const ExplainSettings& settings) {
  ExplainSettings s = settings;
  if (s.smoothgrad_samples <= 0) s.smoothgrad_samples = 16;
  return gradient_explanation(net, image, target, GradientMethod::Saliency, s);
}

std::vector<ExplanationMethod> make_methods() {
  return {
      {"gradcam", "cam",
       "Grad-CAM: layer channels weighted by their mean gradient; coarse regions that raise the score", false,
       gradcam_explanation},
      {"gradcam++", "cam", "Grad-CAM++: like Grad-CAM, with per-position gradient weights that favour several regions",
       false, gradcam_pp_explanation},
      {"hirescam", "cam", "HiResCAM: gradient times activation at each position, summed over channels (no averaging)",
       false, hirescam},
      {"xgradcam", "cam", "XGrad-CAM: channels weighted by their activation-weighted gradient", false, xgradcam},
      {"layercam", "cam", "LayerCAM: positive gradients times activations, averaged over the last three layers", false,
       layercam},
      {"scorecam", "cam", "Score-CAM: channels weighted by the score of the image masked by each channel (no gradient)",
       false, scorecam},
      {"eigencam", "cam", "Eigen-CAM: first principal component of the layer's activations (ignores the class)", false,
       eigencam},
      {"saliency", "gradient", "Saliency: size of the score's gradient at each pixel (where small changes matter)",
       true, gradient(GradientMethod::Saliency)},
      {"inputxgrad", "gradient", "Input x Gradient: pixel value times gradient (first-order contribution of a pixel)",
       true, gradient(GradientMethod::InputXGradient)},
      {"integrated-gradients", "gradient",
       "Integrated Gradients: gradient averaged from a grey image to this one, times the pixel (sums to the score "
       "change)",
       true, gradient(GradientMethod::IntegratedGradients)},
      {"smoothgrad", "gradient", "SmoothGrad: saliency averaged over noisy copies of the image (less speckle)", false,
       smoothgrad},
      {"guided-backprop", "gradient",
       "Guided backprop: gradient passed back only through positive ReLU paths (sharp edges; barely depends on the "
       "class)",
       false, guided_backprop},
      {"guided-gradcam", "gradient",
       "Guided Grad-CAM: guided backprop times the Grad-CAM map (fine detail inside its regions)", false,
       guided_gradcam},
      {"occlusion", "perturbation", "Occlusion: how much the score drops when a 16-pixel patch is greyed out", false,
       occlusion},
  };
}

}  // namespace

const std::vector<ExplanationMethod>& explanation_methods() {
  static const std::vector<ExplanationMethod> methods = make_methods();
  return methods;
}

std::vector<std::string> explanation_method_names() {
  std::vector<std::string> names;
  for (const auto& m : explanation_methods()) names.push_back(m.name);
  return names;
}

const ExplanationMethod& explanation_method(const std::string& name) {
  for (const auto& m : explanation_methods())
    if (m.name == name) return m;
  throw Error(fmt::format("unknown explanation method '{}': expected one of {}", name,
                          fmt::join(explanation_method_names(), ", ")));
}

Explanation explain_with(ClassifierNet& net, const Tensor& image, const std::string& method, int target,
                         const ExplainSettings& settings) {
  const ExplanationMethod& m = explanation_method(method);
  CXR_CHECK(settings.smoothgrad_samples <= 0 || m.smoothable || m.name == "smoothgrad",
            "SmoothGrad applies to saliency, inputxgrad and integrated-gradients, not to {}", method);
  return m.run(net, image, target, settings);
}

}  // namespace cxr
