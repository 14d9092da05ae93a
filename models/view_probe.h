// The out-of-distribution gate's frontal-versus-lateral check (models/ood_gate.h):
// a lateral chest X-ray is a radiograph like the training images in every pixel
// statistic, and its pooled features are close to theirs (the feature Mahalanobis
// score refuses few), but the gate must refuse it: the model was trained on frontal
// views only. So a discriminative probe, fitted on examples of both:
//   L2-regularised logistic regression on the image's pooled features and 16 x 16
//   thumbnail (models/model_outputs.h), each input standardised with the mean and
//   standard deviation of the training rows; class-balanced weights (the laterals are
//   few); Newton's method with a backtracking line search, in double.
//   score = P(lateral) = sigmoid(w . standardised(x) + b).
// Frontal rows: up to kViewProbeFrontals images of the TRAINING split (evenly spaced);
// lateral rows: lateral views (ieee8023's, which the data builder leaves out of the
// dataset). The threshold comes from the VALIDATION split like the gate's others.
#pragma once

#include "models/model_outputs.h"

#include <cstdint>
#include <span>
#include <vector>

namespace cxr {

inline constexpr std::int64_t kViewProbeFrontals = 2000;
// Penalty (lambda / 2) |w|^2 on the weighted mean log-loss: strong, because the
// laterals are a few dozen against hundreds of inputs.
inline constexpr double kViewProbeRidge = 0.01;

struct ViewProbe {
  std::vector<double> mean, scale;  // per input, standardisation: (x - mean) / scale
  std::vector<double> weights;      // per input
  double bias = 0;
  int iterations = 0;  // Newton steps taken by the fit
  bool empty() const { return weights.empty(); }
};

// The probe's inputs for image i: its pooled features, then its thumbnail.
std::vector<double> view_inputs(const ModelOutputs& out, std::int64_t i);

// Positions 0..n-1 of the training rows used as frontal examples (all when n <= kViewProbeFrontals).
std::vector<std::int64_t> view_probe_frontals(std::int64_t n);

// frontal and lateral: row-major [rows x width] of view_inputs. Needs at least one
// row of each; throws cxr::Error otherwise.
ViewProbe fit_view_probe(std::span<const double> frontal, std::span<const double> lateral, int width,
                         double ridge = kViewProbeRidge);

// P(lateral) of one row of inputs.
double view_probability(const ViewProbe& probe, std::span<const double> inputs);

}  // namespace cxr
