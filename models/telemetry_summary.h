// `cxr inspect --run DIR`: a training run's telemetry (models/train_telemetry.h)
// summarised per layer, with warnings for the usual pathologies. The thresholds are
// rules of thumb (CS231n's "babysitting the learning process"; Karpathy's ~1e-3
// update/weight ratio), meant to point a learner at a layer, not to prove a fault:
//   exploding gradients  a non-finite loss or gradient norm, or a layer's gradient
//                        norm at some record above kExplodingGrowth x its first one
//   vanishing gradients  a trainable layer whose median gradient norm is 0 or below
//                        kVanishingShare x the largest layer's median
//   dead layer           a layer whose median share of dead channels (zero on every
//                        probe image, everywhere) is at least kDeadChannelShare
//   update ratio         a trainable layer whose median update/weight ratio lies
//                        outside [kUpdateRatioLow, kUpdateRatioHigh] (1e-3 / 10, x 10)
#pragma once

#include "models/train_telemetry.h"

#include <optional>
#include <string>
#include <vector>

namespace cxr {

inline constexpr double kExplodingGrowth = 100;
inline constexpr double kVanishingShare = 1e-4;
inline constexpr double kDeadChannelShare = 0.5;
inline constexpr double kUpdateRatioLow = 1e-4, kUpdateRatioHigh = 1e-2;

struct LayerSummary {
  std::string name;
  bool trainable = false;
  // Over the records where the layer has the value (medians: the lower middle one).
  std::optional<double> first_grad_norm, last_grad_norm, max_grad_norm, median_grad_norm;
  std::optional<double> median_update_ratio, median_zero_fraction, median_dead_channels;
  std::optional<double> last_bn_mean, last_bn_var;
};

enum class Pathology { exploding_gradients, vanishing_gradients, dead_layer, update_ratio_high, update_ratio_low };
std::string pathology_name(Pathology p);  // "exploding_gradients", ...

struct TelemetryWarning {
  Pathology kind;
  std::string layer;  // "" for the whole run (a non-finite loss)
  std::string message;
};

struct RunSummary {
  std::size_t records = 0;
  std::int64_t first_step = 0, last_step = 0;
  double first_loss = 0, last_loss = 0, last_lr = 0;
  std::vector<LayerSummary> layers;
  std::vector<TelemetryWarning> warnings;
};

// Throws cxr::Error when there is no record.
RunSummary summarize_telemetry(const std::vector<TelemetryRecord>& records);

}  // namespace cxr
