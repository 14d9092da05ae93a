#include "models/explain/rank_correlation.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace cxr {

namespace {

std::vector<double> mid_ranks(const std::vector<double>& v) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j < order.size() && v[order[j]] == v[order[i]]) ++j;
    for (std::size_t t = i; t < j; ++t) r[order[t]] = (static_cast<double>(i + j) - 1) / 2;
    i = j;
  }
  return r;
}

}  // namespace

double spearman(const Tensor& a, const Tensor& b) {
  CXR_CHECK(a.numel() == b.numel() && a.numel() > 0, "spearman: maps of {} and {} values", a.numel(), b.numel());
  const std::vector<double> ra = mid_ranks(a.to_vector()), rb = mid_ranks(b.to_vector());
  const double n = static_cast<double>(ra.size());
  const double ma = std::accumulate(ra.begin(), ra.end(), 0.0) / n;
  const double mb = std::accumulate(rb.begin(), rb.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  if (saa == 0 || sbb == 0) return std::nan("");
  return sab / std::sqrt(saa * sbb);
}

}  // namespace cxr
