#include "models/frechet_distance.h"

#include "base/check.h"

#include <algorithm>
#include <cmath>

namespace cxr {

namespace {

// Rows minus their column means; the means go to `mean`.
FeatureRows centred(const FeatureRows& rows, std::vector<double>& mean) {
  const std::size_t d = rows[0].size();
  mean.assign(d, 0.0);
  for (const auto& r : rows)
    for (std::size_t j = 0; j < d; ++j) mean[j] += r[j];
  for (double& m : mean) m /= static_cast<double>(rows.size());
  FeatureRows out = rows;
  for (auto& r : out)
    for (std::size_t j = 0; j < d; ++j) r[j] -= mean[j];
  return out;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t j = 0; j < a.size(); ++j) s += a[j] * b[j];
  return s;
}

}  // namespace

std::vector<double> symmetric_eigenvalues(std::vector<double> a, int n) {
  CXR_CHECK(n >= 1 && a.size() == static_cast<std::size_t>(n) * n, "symmetric_eigenvalues: {} values for n = {}",
            a.size(), n);
  const auto at = [&](int i, int j) -> double& {
    return a[static_cast<std::size_t>(i) * n + j];
  };
  double total = 0;
  for (const double v : a) total += v * v;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (int i = 0; i < n; ++i)
      for (int j = i + 1; j < n; ++j) off += at(i, j) * at(i, j);
    if (off <= 1e-24 * total || off == 0) break;
    for (int p = 0; p < n; ++p)
      for (int q = p + 1; q < n; ++q) {
        if (at(p, q) == 0) continue;
        // The rotation that zeroes a_pq (Golub & Van Loan, Algorithm 8.5.1).
        const double theta = (at(q, q) - at(p, p)) / (2 * at(p, q));
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < n; ++k) {  // columns p, q
          const double kp = at(k, p), kq = at(k, q);
          at(k, p) = c * kp - s * kq;
          at(k, q) = s * kp + c * kq;
        }
        for (int k = 0; k < n; ++k) {  // rows p, q
          const double pk = at(p, k), qk = at(q, k);
          at(p, k) = c * pk - s * qk;
          at(q, k) = s * pk + c * qk;
        }
      }
  }
  std::vector<double> eigenvalues(n);
  for (int i = 0; i < n; ++i) eigenvalues[i] = at(i, i);
  return eigenvalues;
}

double frechet_distance(const FeatureRows& a, const FeatureRows& b) {
  CXR_CHECK(a.size() >= 2 && b.size() >= 2, "frechet_distance: {} and {} rows; each set needs at least 2", a.size(),
            b.size());
  const std::size_t d = a[0].size();
  for (const FeatureRows* set : {&a, &b})
    for (const auto& r : *set) CXR_CHECK(r.size() == d, "frechet_distance: rows of {} and {} features", d, r.size());
  std::vector<double> mean_a, mean_b;
  const FeatureRows ca = centred(a, mean_a), cb = centred(b, mean_b);
  double distance = 0;
  for (std::size_t j = 0; j < d; ++j) distance += (mean_a[j] - mean_b[j]) * (mean_a[j] - mean_b[j]);
  const double na = static_cast<double>(a.size() - 1), nb = static_cast<double>(b.size() - 1);
  for (const auto& r : ca) distance += dot(r, r) / na;  // tr(S1)
  for (const auto& r : cb) distance += dot(r, r) / nb;  // tr(S2)
  // C C^T on the smaller side (the non-zero spectrum is the same either way).
  const FeatureRows& small = ca.size() <= cb.size() ? ca : cb;
  const FeatureRows& large = ca.size() <= cb.size() ? cb : ca;
  const int n = static_cast<int>(small.size());
  std::vector<std::vector<double>> c(n, std::vector<double>(large.size()));
  for (int i = 0; i < n; ++i)
    for (std::size_t k = 0; k < large.size(); ++k) c[i][k] = dot(small[i], large[k]) / std::sqrt(na * nb);
  std::vector<double> cct(static_cast<std::size_t>(n) * n);
  for (int i = 0; i < n; ++i)
    for (int j = i; j < n; ++j)
      cct[static_cast<std::size_t>(i) * n + j] = cct[static_cast<std::size_t>(j) * n + i] = dot(c[i], c[j]);
  double trace_sqrt = 0;
  for (const double e : symmetric_eigenvalues(std::move(cct), n)) trace_sqrt += std::sqrt(std::max(e, 0.0));
  return distance - 2 * trace_sqrt;
}

}  // namespace cxr
