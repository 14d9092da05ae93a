// Class-activation heatmaps from exact gradients.
//
// Grad-CAM (Selvaraju et al. 2017): with A [C, h, w] the feature map of a layer
// (by default the net's cam_layer(), e.g. the last convolutional block) and
// g = d(score_c)/dA, computed by the engine's autograd
// (score_c is the logit of class c, before softmax):
//   weight_k = mean_ij g_kij,   map = ReLU(sum_k weight_k * A_k)
// Grad-CAM++ (Chattopadhay et al. 2018), the closed form for an exponential score:
//   alpha_kij = g^2 / (2 g^2 + sum_ab A_kab * g_kij^3)   (0 where the denominator is 0)
//   weight_k  = sum_ij alpha_kij * ReLU(g_kij),   map = ReLU(sum_k weight_k * A_k)
// Both maps are bilinearly upsampled to the input size and normalised to [0, 1].
#pragma once

#include "models/classifier_net.h"

#include <string>
#include <vector>

namespace cxr {

enum class CamMethod { GradCam, GradCamPlusPlus };

CamMethod parse_cam_method(const std::string& name);  // "gradcam" | "gradcam++"
std::string cam_method_name(CamMethod method);

struct Heatmap {
  std::string layer;  // the layer explained
  int target_class = 0;
  std::vector<double> probabilities;  // softmax of the logits
  Tensor feature_map;                 // A [C, h, w] (float32, detached, on the CPU)
  Tensor feature_grad;                // dscore/dA [C, h, w] (on the CPU)
  Tensor coarse;                      // [h, w], before upsampling, not normalised
  Tensor map;                         // [H, W] in [0, 1] (all zeros if the coarse map is)
};

// Explains `image` [1, in, H, W] for `target_class` (-1: the predicted class) at
// `layer` (one of net.layer_names(); empty: net.cam_layer()). The net is put in
// evaluation mode; it runs on the device of its parameters (the image is copied there)
// and every tensor of the result is on the CPU.
Heatmap explain(ClassifierNet& net, const Tensor& image, CamMethod method, int target_class = -1,
                const std::string& layer = "");

// explain() for every image of a batch [N, in, H, W] with one forward and one
// backward pass: in evaluation mode the images do not interact, so the gradient of
// the sum of the chosen scores gives each image its own d(score)/dA. methods[i] and
// target_classes[i] (-1: the predicted class) belong to image i. Each heatmap equals
// explain() of its image up to the float32 rounding of the batched kernels.
std::vector<Heatmap> explain_batch(ClassifierNet& net, const Tensor& images, const std::vector<CamMethod>& methods,
                                   std::vector<int> target_classes, const std::string& layer = "");

// The channel weights of a method from A and g (both [C, h, w]); exposed for tests.
std::vector<double> cam_channel_weights(const Tensor& A, const Tensor& g, CamMethod method);

}  // namespace cxr
