// Pixel-level attributions from the exact gradient of the score with respect to the
// input (engine autograd), for x [1, in, H, W] and class c:
//   saliency (Simonyan et al. 2014):     |d score_c / dx|, the largest over the input
//                                        channels.
//   Input x Gradient (Shrikumar et al. 2016): x * d score_c / dx, summed over channels.
//   Integrated Gradients (Sundararajan et al. 2017): (x - x0) * the mean gradient on
//       the straight path from the baseline x0 = 0 to x, by the midpoint rule:
//       alpha_k = (k + 1/2) / m, k = 0..m-1 (m = settings.ig_steps), batched.
//       Completeness says the attributions sum to score_c(x) - score_c(x0); the rule's
//       error is O(1/m^2) for a smooth score (ReLU nets are piecewise linear, so the
//       error shrinks with m but not always that fast). It is reported as the facts
//       "completeness_error" (|sum - difference|), "score_difference" and "ig_steps".
//   SmoothGrad (Smilkov et al. 2017), over any of the three: the mean of the raw
//       attribution over settings.smoothgrad_samples copies of x with Gaussian noise
//       of sd settings.smoothgrad_sigma * (max(x) - min(x)) (seeded), settings.batch
//       copies a pass.
// The per-pixel (channel-summed) attribution is then rectified (explanation.h): the
// map shows evidence for the class, not against it.
#pragma once

#include "models/explain/explanation.h"

namespace cxr {

enum class GradientMethod { Saliency, InputXGradient, IntegratedGradients };

// The per-pixel attribution [H * W] before rectification; IG appends its facts.
std::vector<double> raw_attribution(ClassifierNet& net, const Tensor& image, int target, GradientMethod method,
                                    const ExplainSettings& settings,
                                    std::vector<std::pair<std::string, double>>* facts = nullptr);

// The same for each image of a batch [N, in, H, W], all for class `target`: one
// forward and backward pass for saliency and Input x Gradient (the images do not
// interact in evaluation mode), one Integrated Gradients run per image.
std::vector<std::vector<double>> raw_attributions(ClassifierNet& net, const Tensor& images, int target,
                                                  GradientMethod method, const ExplainSettings& settings);

// The explanation, with SmoothGrad when settings.smoothgrad_samples > 0.
Explanation gradient_explanation(ClassifierNet& net, const Tensor& image, int target, GradientMethod method,
                                 const ExplainSettings& settings);

}  // namespace cxr
