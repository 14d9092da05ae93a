#include "models/image_statistics.h"

#include "base/check.h"

#include <algorithm>
#include <cmath>

namespace cxr {

namespace {

// Adds one count to the bin of v among: below `low`, `inner` bins of `width` from
// `low`, at or above low + inner * width.
void count_in(std::vector<double>& bins, double v, double low, double width, int inner) {
  const double t = std::floor((v - low) / width);
  const int bin = v < low ? 0 : static_cast<int>(std::min<double>(t, inner)) + 1;
  bins[bin] += 1;
}

void append_shares(std::vector<double>& out, const std::vector<double>& counts) {
  double total = 0;
  for (double c : counts) total += c;
  for (double c : counts) out.push_back(total > 0 ? c / total : 0.0);
}

}  // namespace

void append_image_statistics(std::vector<double>& out, const double* x, std::int64_t h, std::int64_t w) {
  CXR_CHECK(h >= 2 && w >= 2, "image statistics: a {}x{} image is too small", h, w);
  const std::int64_t n = h * w;
  double mean = 0;
  for (std::int64_t i = 0; i < n; ++i) mean += x[i];
  mean /= static_cast<double>(n);
  double var = 0;
  for (std::int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  const double spread = std::sqrt(var / static_cast<double>(n));
  const double sd = spread > kFlatImageSd ? spread : 0.0;  // a constant image's spread is rounding
  out.push_back(mean);
  out.push_back(sd);
  std::vector<double> z(n, 0.0);
  if (sd > 0)
    for (std::int64_t i = 0; i < n; ++i) z[i] = (x[i] - mean) / sd;
  const auto at = [&](std::int64_t r, std::int64_t c) {
    return z[r * w + c];
  };

  std::vector<double> intensity(16, 0.0);
  for (double v : z) intensity[static_cast<int>(std::clamp(std::floor((v + 3.0) / 0.375), 0.0, 15.0))] += 1;
  append_shares(out, intensity);

  std::vector<double> gradient(9, 0.0);
  double slope = 0, curvature = 0;
  for (std::int64_t r = 0; r + 1 < h; ++r)
    for (std::int64_t c = 0; c + 1 < w; ++c) {
      const double g = std::hypot(at(r, c + 1) - at(r, c), at(r + 1, c) - at(r, c));
      count_in(gradient, g > 0 ? std::log10(g) : -INFINITY, -3.0, 0.5, 7);
      slope += g;
    }
  append_shares(out, gradient);

  std::vector<double> blocks(8, 0.0);
  constexpr int b = kStatisticsBlock;
  for (std::int64_t r0 = 0; r0 + b <= h; r0 += b)
    for (std::int64_t c0 = 0; c0 + b <= w; c0 += b) {
      double s = 0, s2 = 0;
      for (std::int64_t r = r0; r < r0 + b; ++r)
        for (std::int64_t c = c0; c < c0 + b; ++c) s += at(r, c), s2 += at(r, c) * at(r, c);
      const double m = s / (b * b), v = std::max(0.0, s2 / (b * b) - m * m);
      count_in(blocks, v > 0 ? 0.5 * std::log10(v) : -INFINITY, -2.5, 0.5, 6);
    }
  append_shares(out, blocks);

  for (std::int64_t r = 1; r + 1 < h; ++r)
    for (std::int64_t c = 1; c + 1 < w; ++c)
      curvature += std::abs(at(r - 1, c) + at(r + 1, c) + at(r, c - 1) + at(r, c + 1) - 4 * at(r, c));
  const double positions = static_cast<double>((h - 1) * (w - 1)), inner = static_cast<double>((h - 2) * (w - 2));
  out.push_back(sd > 0 ? std::log10((curvature / std::max(inner, 1.0) + 1e-6) / (slope / positions + 1e-6)) : 0.0);
}

std::vector<double> log_shares(std::span<const double> statistics) {
  CXR_CHECK(statistics.size() % kImageStatistics == 0, "image statistics: {} values are not rows of {}",
            statistics.size(), kImageStatistics);
  std::vector<double> out(statistics.begin(), statistics.end());
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto column = static_cast<int>(i % kImageStatistics);
    if (column >= kSharesBegin && column < kSharesEnd) out[i] = std::log10(out[i] + kShareFloor);
  }
  return out;
}

}  // namespace cxr
