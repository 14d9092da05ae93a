// Guided backpropagation and Guided Grad-CAM, for x [1, in, H, W] and class c:
//   guided backprop (Springenberg et al. 2015): the gradient of score_c with respect
//       to x, but every ReLU passes the gradient back only where its output is
//       positive AND the gradient arriving there is positive (engine/relu_backward.h:
//       the forward and backward run inside a GuidedReluScope; the fused ops
//       conv2d_relu and batch_norm_relu2d follow the same rule). The per-pixel value is
//       the sum over the input channels.
//   Guided Grad-CAM (Selvaraju et al. 2017): guided backprop times the Grad-CAM map
//       at settings.layer, upsampled to the input (models/explain/cam_family.h).
// Both are then rectified and divided by their peak (explanation.h). Guided backprop
// is known to depend little on the model's upper layers (Adebayo et al. 2018,
// "Sanity checks for saliency maps"); `cxr eval-heatmaps` measures that here.
#pragma once

#include "models/explain/explanation.h"

namespace cxr {

// The guided gradient [N, in, H, W] of score_target for each image of `images`.
Tensor guided_input_gradients(ClassifierNet& net, const Tensor& images, const std::vector<int>& targets);

Explanation guided_backprop(ClassifierNet& net, const Tensor& image, int target, const ExplainSettings& settings);
Explanation guided_gradcam(ClassifierNet& net, const Tensor& image, int target, const ExplainSettings& settings);

}  // namespace cxr
