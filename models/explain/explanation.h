// What every explanation method returns, the settings they share, and the small
// helpers they are built from (models/explain/*.cpp).
//
// An explanation of image x [1, in, H, W] for class c is a map [H, W] in [0, 1]:
// the method's attribution, rectified (negative evidence dropped) and divided by its
// peak, so that every method can be drawn and measured the same way. score_c is the
// logit of class c (before softmax), as in models/gradcam.h. The images are the
// model's normalised input, so a pixel value of 0 is the normalisation mean: it is
// the baseline of Integrated Gradients and the fill of occlusion patches.
#pragma once

#include "models/classifier_net.h"

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace cxr {

struct ExplainSettings {
  std::string layer;                // the CAM family's layer (empty: net.cam_layer())
  std::vector<std::string> layers;  // LayerCAM's layers (empty: the last three)
  int ig_steps = 32;                // Integrated Gradients: Riemann midpoints on the path
  int smoothgrad_samples = 0;       // > 0: SmoothGrad over a gradient method
  double smoothgrad_sigma = 0.15;   // noise sd as a share of the image's value range
  int occlusion_patch = 16, occlusion_stride = 8;
  int batch = 16;          // images in one forward or backward pass (Score-CAM, IG, SmoothGrad, occlusion)
  std::uint64_t seed = 1;  // SmoothGrad noise
};

struct Explanation {
  std::string method, layer;  // layer: "" for pixel-level and perturbation methods
  int target_class = 0;
  std::vector<double> probabilities;  // softmax of the image's logits
  Tensor map;                         // [H, W] float64 in [0, 1] (all zeros if nothing is positive)
  Tensor grid;                        // the map at coarse resolution [h, w], peak 1 (for the API)
  // Numbers a method reports about itself, e.g. Integrated Gradients' completeness.
  std::vector<std::pair<std::string, double>> facts;
};

// The image's logits [classes] and softmax, without a graph; resolves target -1 to the
// predicted class and checks that the class exists.
struct ScoredImage {
  std::vector<double> logits, probabilities;
  int target = 0;
};
ScoredImage predict_one(ClassifierNet& net, const Tensor& image, int target);

// d(score_target)/d(images) for a batch [N, in, H, W] (one target per image), on
// the CPU in the images' dtype: one forward and one backward pass, the images do not
// interact in evaluation mode.
Tensor input_gradients(ClassifierNet& net, const Tensor& images, const std::vector<int>& targets);

// score_target of `count` images that fill(i, pixels) writes (image i, shaped like
// `like` [1, in, H, W]), `batch` at a time, without a graph.
std::vector<double> batched_scores(ClassifierNet& net, const Tensor& like, std::int64_t count, int target, int batch,
                                   const std::function<void(std::int64_t, double*)>& fill);

// ReLU, then divide by the peak (the peak becomes exactly 1; an all-nonpositive map
// becomes zeros). values has H * W entries, row-major.
Tensor rectified_map(std::vector<double> values, std::int64_t height, std::int64_t width);

// A coarse map [h, w] bilinearly upsampled to [H, W] (float64).
std::vector<double> upsample(const std::vector<double>& coarse, std::int64_t h, std::int64_t w, std::int64_t H,
                             std::int64_t W);

// The mean of `map` [H, W] over cells of `cell` x `cell` pixels (the last ones
// smaller), divided by its peak: a pixel map's grid for the API.
Tensor pooled_grid(const Tensor& map, std::int64_t cell);

}  // namespace cxr
