#include "models/feature_montage.h"

#include "base/check.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

namespace cxr {

namespace {

constexpr int kGap = 2;
constexpr std::uint8_t kGapGrey = 48;
constexpr std::array<std::uint8_t, 3> kNonFinite{255, 0, 255};  // NaN or inf: magenta

std::array<std::uint8_t, 3> magnitude_colour(double v, double lo, double hi) {
  const double t = hi > lo ? std::clamp((v - lo) / (hi - lo), 0.0, 1.0) : 0.0;
  const auto g = static_cast<std::uint8_t>(std::lround(255 * t));
  return {g, g, g};
}

// White at 0, towards pure red (positive) or blue (negative) at |v| = peak.
std::array<std::uint8_t, 3> signed_colour(double v, double peak) {
  const double t = peak > 0 ? std::clamp(std::abs(v) / peak, 0.0, 1.0) : 0.0;
  const auto fade = static_cast<std::uint8_t>(std::lround(255 * (1 - t)));
  if (v >= 0) return {255, fade, fade};
  return {fade, fade, 255};
}

// The p-th percentile by nearest rank: the ceil(p/100 * n)-th smallest value (a value
// of the data; the maximum for n < 100 / (100 - p)). 0 for no value.
double nearest_rank(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100 * static_cast<double>(values.size())));
  const auto k = values.begin() + static_cast<std::ptrdiff_t>(std::clamp<std::size_t>(rank, 1, values.size()) - 1);
  std::nth_element(values.begin(), k, values.end());
  return *k;
}

}  // namespace

RgbImage feature_montage(const Tensor& maps, MontageColours colours, int max_channels) {
  CXR_CHECK(maps.dim() == 3, "feature_montage: expected maps [C, h, w], got {}", maps.str());
  CXR_CHECK(max_channels >= 1, "feature_montage: max_channels {} (expected at least 1)", max_channels);
  const auto channels = static_cast<int>(std::min<std::int64_t>(maps.size(0), max_channels));
  const auto h = static_cast<int>(maps.size(1)), w = static_cast<int>(maps.size(2));
  CXR_CHECK(channels >= 1 && h >= 1 && w >= 1, "feature_montage: empty maps {}", maps.str());
  const std::vector<double> v = maps.to(Device::cpu()).contiguous().to_vector();
  const std::size_t shown = static_cast<std::size_t>(channels) * h * w;

  std::vector<double> finite, magnitudes;
  for (std::size_t i = 0; i < shown; ++i)
    if (std::isfinite(v[i])) {
      finite.push_back(v[i]);
      magnitudes.push_back(std::abs(v[i]));
    }
  const double lo = finite.empty() ? 0 : *std::min_element(finite.begin(), finite.end());
  const double hi = nearest_rank(finite, kMontageTopPercentile);
  const double peak = nearest_rank(magnitudes, kMontageTopPercentile);

  const int scale = std::max(1, (kMontageMinCell + std::max(h, w) - 1) / std::max(h, w));
  const int cols = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(channels))));
  const int rows = (channels + cols - 1) / cols;
  const int cell_w = w * scale, cell_h = h * scale;
  RgbImage out;
  out.width = cols * cell_w + (cols + 1) * kGap;
  out.height = rows * cell_h + (rows + 1) * kGap;
  out.pixels.assign(static_cast<std::size_t>(out.width) * out.height * 3, kGapGrey);
  for (int c = 0; c < channels; ++c) {
    const int x0 = kGap + (c % cols) * (cell_w + kGap), y0 = kGap + (c / cols) * (cell_h + kGap);
    for (int y = 0; y < cell_h; ++y)
      for (int x = 0; x < cell_w; ++x) {
        const double value = v[(static_cast<std::size_t>(c) * h + y / scale) * w + x / scale];
        const std::array<std::uint8_t, 3> rgb = !std::isfinite(value)                  ? kNonFinite
                                                : colours == MontageColours::magnitude ? magnitude_colour(value, lo, hi)
                                                                                       : signed_colour(value, peak);
        std::copy(rgb.begin(), rgb.end(),
                  out.pixels.begin() + (static_cast<std::ptrdiff_t>(y0 + y) * out.width + x0 + x) * 3);
      }
  }
  return out;
}

}  // namespace cxr
