#include "models/telemetry_summary.h"

#include "base/check.h"

#include <algorithm>
#include <cmath>

namespace cxr {

namespace {

// The lower middle value: a recorded value, not an average of two.
std::optional<double> median(std::vector<double> v) {
  if (v.empty()) return std::nullopt;
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>((v.size() - 1) / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

std::vector<double> series(const std::vector<TelemetryRecord>& records, std::size_t layer,
                           std::optional<double> LayerTelemetry::*member) {
  std::vector<double> v;
  for (const TelemetryRecord& r : records)
    if (layer < r.layers.size() && r.layers[layer].*member) v.push_back(*(r.layers[layer].*member));
  return v;
}

}  // namespace

std::string pathology_name(Pathology p) {
  switch (p) {
    case Pathology::exploding_gradients: return "exploding_gradients";
    case Pathology::vanishing_gradients: return "vanishing_gradients";
    case Pathology::dead_layer: return "dead_layer";
    case Pathology::update_ratio_high: return "update_ratio_high";
    case Pathology::update_ratio_low: return "update_ratio_low";
  }
  return "?";
}

RunSummary summarize_telemetry(const std::vector<TelemetryRecord>& records) {
  CXR_CHECK(!records.empty(), "telemetry: no record (the run stopped before its first telemetry step?)");
  RunSummary s;
  s.records = records.size();
  s.first_step = records.front().step;
  s.last_step = records.back().step;
  s.first_loss = records.front().loss;
  s.last_loss = records.back().loss;
  s.last_lr = records.back().lr;
  const auto warn = [&](Pathology kind, const std::string& layer, std::string message) {
    s.warnings.push_back({kind, layer, std::move(message)});
  };
  for (const TelemetryRecord& r : records)
    if (!std::isfinite(r.loss)) {
      warn(Pathology::exploding_gradients, "", fmt::format("the loss is not finite from step {} on", r.step));
      break;
    }

  const std::vector<LayerTelemetry>& names = records.front().layers;
  for (std::size_t k = 0; k < names.size(); ++k) {
    LayerSummary& l = s.layers.emplace_back();
    l.name = names[k].name;
    l.trainable = names[k].trainable;
    const std::vector<double> grads = series(records, k, &LayerTelemetry::grad_norm);
    if (!grads.empty()) {
      l.first_grad_norm = grads.front();
      l.last_grad_norm = grads.back();
      l.max_grad_norm = *std::max_element(grads.begin(), grads.end(), [](double a, double b) {
        return std::isnan(b) ? false : std::isnan(a) || a < b;
      });
      l.median_grad_norm = median(grads);
    }
    l.median_update_ratio = median(series(records, k, &LayerTelemetry::update_ratio));
    l.median_zero_fraction = median(series(records, k, &LayerTelemetry::zero_fraction));
    l.median_dead_channels = median(series(records, k, &LayerTelemetry::dead_channels));
    const std::vector<double> bn_mean = series(records, k, &LayerTelemetry::bn_mean);
    const std::vector<double> bn_var = series(records, k, &LayerTelemetry::bn_var);
    if (!bn_mean.empty()) l.last_bn_mean = bn_mean.back();
    if (!bn_var.empty()) l.last_bn_var = bn_var.back();

    if (!grads.empty()) {
      const auto bad = std::find_if(grads.begin(), grads.end(), [](double g) { return !std::isfinite(g); });
      if (bad != grads.end())
        warn(Pathology::exploding_gradients, l.name, fmt::format("{}: the gradient norm is not finite", l.name));
      else if (grads.front() > 0 && *l.max_grad_norm > kExplodingGrowth * grads.front())
        warn(Pathology::exploding_gradients, l.name,
             fmt::format("{}: the gradient norm grew from {:.3g} to {:.3g} (more than {}x)", l.name, grads.front(),
                         *l.max_grad_norm, kExplodingGrowth));
    }
    if (l.median_dead_channels && *l.median_dead_channels >= kDeadChannelShare)
      warn(Pathology::dead_layer, l.name,
           fmt::format("{}: {:.0f}% of its channels never fire (median over the records)", l.name,
                       100 * *l.median_dead_channels));
    if (l.trainable && l.median_update_ratio && std::isfinite(*l.median_update_ratio)) {
      const double r = *l.median_update_ratio;
      if (r > kUpdateRatioHigh)
        warn(Pathology::update_ratio_high, l.name,
             fmt::format("{}: update/weight ratio {:.3g}, far above ~1e-3 (learning rate too high?)", l.name, r));
      else if (r < kUpdateRatioLow)
        warn(Pathology::update_ratio_low, l.name,
             fmt::format("{}: update/weight ratio {:.3g}, far below ~1e-3 (learning rate too low, or no gradient?)",
                         l.name, r));
    }
  }

  double largest = 0;
  for (const LayerSummary& l : s.layers)
    if (l.median_grad_norm && std::isfinite(*l.median_grad_norm)) largest = std::max(largest, *l.median_grad_norm);
  for (const LayerSummary& l : s.layers)
    if (l.trainable && l.median_grad_norm && std::isfinite(*l.median_grad_norm) &&
        (*l.median_grad_norm == 0 || *l.median_grad_norm < kVanishingShare * largest))
      warn(Pathology::vanishing_gradients, l.name,
           fmt::format("{}: median gradient norm {:.3g}, against {:.3g} in the layer with the largest", l.name,
                       *l.median_grad_norm, largest));
  return s;
}

}  // namespace cxr
