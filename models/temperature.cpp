#include "models/temperature.h"

#include "base/check.h"

#include <algorithm>
#include <cmath>

namespace cxr {

std::vector<double> softmax_at(std::span<const double> logits, double temperature) {
  CXR_CHECK(temperature > 0 && std::isfinite(temperature), "softmax: temperature {} is not positive", temperature);
  const double top = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p(logits.size());
  double sum = 0;
  for (std::size_t c = 0; c < logits.size(); ++c) sum += p[c] = std::exp((logits[c] - top) / temperature);
  for (double& v : p) v /= sum;
  return p;
}

double scaled_nll(std::span<const double> logits, std::span<const std::uint32_t> allowed, int k, double temperature) {
  CXR_CHECK(k > 0 && logits.size() == allowed.size() * static_cast<std::size_t>(k),
            "temperature scaling: {} logits for {} images of {} classes", logits.size(), allowed.size(), k);
  CXR_CHECK(!allowed.empty(), "temperature scaling: no images");
  double total = 0;
  for (std::size_t i = 0; i < allowed.size(); ++i) {
    const auto row = logits.subspan(i * k, k);
    CXR_CHECK((allowed[i] & ((1u << k) - 1)) != 0, "temperature scaling: image {} admits no class", i);
    // log sum_{c in set} exp(z_c / T) - log sum_c exp(z_c / T), both shifted by the row maximum.
    const double top = *std::max_element(row.begin(), row.end()) / temperature;
    double all = 0, admitted = 0;
    for (int c = 0; c < k; ++c) {
      const double e = std::exp(row[c] / temperature - top);
      all += e;
      if (allowed[i] >> c & 1u) admitted += e;
    }
    total += std::log(all) - std::log(admitted);
  }
  return total / static_cast<double>(allowed.size());
}

TemperatureFit fit_temperature(std::span<const double> logits, std::span<const std::uint32_t> allowed, int k) {
  auto nll = [&](double log_t) {
    return scaled_nll(logits, allowed, k, std::exp(log_t));
  };
  // Golden-section search on [log Tmin, log Tmax]: 100 steps shrink the interval by
  // 0.618^100 ~ 1e-21, far below double resolution of log T.
  const double inv_phi = (std::sqrt(5.0) - 1) / 2;
  double a = std::log(kMinTemperature), b = std::log(kMaxTemperature);
  double c = b - inv_phi * (b - a), d = a + inv_phi * (b - a);
  double fc = nll(c), fd = nll(d);
  for (int step = 0; step < 100 && b - a > 1e-12; ++step) {
    if (fc < fd) {
      b = d, d = c, fd = fc;
      c = b - inv_phi * (b - a), fc = nll(c);
    } else {
      a = c, c = d, fc = fd;
      d = a + inv_phi * (b - a), fd = nll(d);
    }
  }
  TemperatureFit fit;
  fit.temperature = std::exp((a + b) / 2);
  fit.nll_before = scaled_nll(logits, allowed, k, 1.0);
  fit.nll_after = scaled_nll(logits, allowed, k, fit.temperature);
  return fit;
}

}  // namespace cxr
