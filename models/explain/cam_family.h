// Class-activation maps beyond Grad-CAM. With A [C, h, w] the activation of a layer
// and g = d(score_c)/dA (exact, from the engine's autograd; models/gradcam.h):
//   HiResCAM  (Draelos & Carin 2020):  map = ReLU(sum_k g_k * A_k), elementwise: the
//             gradient is not averaged first, so the map is what the score's
//             first-order change is made of at each position.
//   XGrad-CAM (Fu et al. 2020):        weight_k = sum_ij A_kij / (sum_ab A_kab) * g_kij
//             (0 when the channel's sum is 0), map = ReLU(sum_k weight_k A_k).
//   LayerCAM  (Jiang et al. 2021):     per layer ReLU(sum_k ReLU(g_k) * A_k); several
//             layers are fused as pytorch-grad-cam does: each layer's map upsampled
//             to the input and divided by its peak, then averaged.
//   Score-CAM (Wang et al. 2020):      no gradient. Each channel, upsampled to the
//             input and min-max scaled to [0, 1], masks the image (x * M_k); the
//             masked images' scores, softmaxed over the channels, weigh the channels
//             (pytorch-grad-cam's variant). `settings.batch` masked images a pass.
//   Eigen-CAM (Muhammad & Yeasin 2020): no gradient, no class. The projection of
//             each position's channel vector A_ij onto the first principal component
//             of the positions (channel means removed), by power iteration on the
//             C x C covariance in float64. The component's sign is arbitrary; it is
//             chosen so that the projections sum to a positive value.
// Each coarse map is rectified (ReLU), upsampled bilinearly to the input and divided
// by its peak (explanation.h).
#pragma once

#include "models/explain/explanation.h"

namespace cxr {

Explanation hirescam(ClassifierNet& net, const Tensor& image, int target, const ExplainSettings& settings);
Explanation xgradcam(ClassifierNet& net, const Tensor& image, int target, const ExplainSettings& settings);
Explanation layercam(ClassifierNet& net, const Tensor& image, int target, const ExplainSettings& settings);
Explanation scorecam(ClassifierNet& net, const Tensor& image, int target, const ExplainSettings& settings);
Explanation eigencam(ClassifierNet& net, const Tensor& image, int target, const ExplainSettings& settings);
// Grad-CAM and Grad-CAM++ (models/gradcam.h) in this interface.
Explanation gradcam_explanation(ClassifierNet& net, const Tensor& image, int target, const ExplainSettings& settings);
Explanation gradcam_pp_explanation(ClassifierNet& net, const Tensor& image, int target,
                                   const ExplainSettings& settings);

// The first principal component (unit length, sign as above) of the rows of
// X [rows, cols] (row-major); exposed for tests.
std::vector<double> first_principal_component(const std::vector<double>& X, std::int64_t rows, std::int64_t cols);

}  // namespace cxr
