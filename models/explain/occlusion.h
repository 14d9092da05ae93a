// Occlusion (Zeiler & Fergus 2014, as Captum's Occlusion computes it): a square
// patch of settings.occlusion_patch pixels slides over x [1, in, H, W] with
// settings.occlusion_stride (the last row and column of patches are moved to touch
// the far edge, so every pixel is covered); each patch is replaced by 0 (the
// normalisation mean) in every channel. A pixel's attribution is the mean, over the
// patches covering it, of score_c(x) - score_c(x with the patch occluded). The
// occluded images go through the net settings.batch at a time, without a graph.
#pragma once

#include "models/explain/explanation.h"

namespace cxr {

// The patches' top-left corners along a side of `length` pixels.
std::vector<std::int64_t> occlusion_offsets(std::int64_t length, std::int64_t patch, std::int64_t stride);

Explanation occlusion(ClassifierNet& net, const Tensor& image, int target, const ExplainSettings& settings);

}  // namespace cxr
