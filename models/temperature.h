// Temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural Networks"):
// one scalar T > 0 divides every logit, softmax(z / T). It leaves the predicted class
// unchanged and only makes the probabilities more (T < 1) or less (T > 1) confident.
// T is fitted on the validation split's logits by minimising the negative
// log-likelihood, a 1-D problem: golden-section search on log T. The NLL is convex
// in 1 / T, hence unimodal in log T, so the search cannot stop at a false minimum.
//
// A target may be a label set (data/labels.h: NIH "pneumonia" = {bacterial, viral});
// its likelihood is the probability of the set, the sum over its classes.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace cxr {

// The search interval for T and the tolerance on log T.
inline constexpr double kMinTemperature = 0.05, kMaxTemperature = 20.0;

struct TemperatureFit {
  double temperature = 1.0;
  double nll_before = 0, nll_after = 0;  // mean NLL at T = 1 and at the fitted T
};

// Mean negative log-likelihood of softmax(logits / T) [n x k] (row-major) where
// allowed[i] is the bit mask of the classes image i's target admits (bit c: class c).
double scaled_nll(std::span<const double> logits, std::span<const std::uint32_t> allowed, int k, double temperature);

// Throws cxr::Error when the sizes disagree, there are no images or a mask is empty.
TemperatureFit fit_temperature(std::span<const double> logits, std::span<const std::uint32_t> allowed, int k);

// softmax(row / T) of one row of logits, computed stably (the maximum subtracted).
std::vector<double> softmax_at(std::span<const double> logits, double temperature);

}  // namespace cxr
