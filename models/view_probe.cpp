#include "models/view_probe.h"

#include "base/check.h"
#include "models/ood_gate.h"

#include <algorithm>
#include <cmath>

namespace cxr {

namespace {

double sigmoid(double s) {
  return s >= 0 ? 1.0 / (1.0 + std::exp(-s)) : std::exp(s) / (1.0 + std::exp(s));
}

// log(1 + e^s) without overflow.
double softplus(double s) {
  return s > 0 ? s + std::log1p(std::exp(-s)) : std::log1p(std::exp(s));
}

}  // namespace

std::vector<double> view_inputs(const ModelOutputs& out, std::int64_t i) {
  const auto pooled = out.pooled_of(i), thumbnail = out.thumbnail_of(i);
  std::vector<double> row(pooled.begin(), pooled.end());
  row.insert(row.end(), thumbnail.begin(), thumbnail.end());
  return row;
}

std::vector<std::int64_t> view_probe_frontals(std::int64_t n) {
  const std::int64_t stride = (n + kViewProbeFrontals - 1) / kViewProbeFrontals;
  std::vector<std::int64_t> rows;
  for (std::int64_t i = 0; i < n; i += std::max<std::int64_t>(stride, 1)) rows.push_back(i);
  return rows;
}

ViewProbe fit_view_probe(std::span<const double> frontal, std::span<const double> lateral, int width, double ridge) {
  CXR_CHECK(width > 0 && frontal.size() % width == 0 && lateral.size() % width == 0,
            "view probe: {} and {} values are not rows of {}", frontal.size(), lateral.size(), width);
  const auto n0 = static_cast<std::int64_t>(frontal.size() / width),
             n1 = static_cast<std::int64_t>(lateral.size() / width);
  CXR_CHECK(n0 > 0 && n1 > 0, "view probe: needs frontal and lateral images ({} and {})", n0, n1);
  const std::int64_t n = n0 + n1;
  const int d = width + 1;  // the inputs, then 1 for the bias
  auto value = [&](std::int64_t i, int f) {
    return i < n0 ? frontal[i * width + f] : lateral[(i - n0) * width + f];
  };

  ViewProbe probe;
  probe.mean.assign(width, 0.0);
  probe.scale.assign(width, 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (int f = 0; f < width; ++f) probe.mean[f] += value(i, f) / static_cast<double>(n);
  for (std::int64_t i = 0; i < n; ++i)
    for (int f = 0; f < width; ++f) probe.scale[f] += std::pow(value(i, f) - probe.mean[f], 2) / static_cast<double>(n);
  // A constant input (its spread only rounding, e.g. a dead ReLU channel) keeps scale 1: weight ~0.
  for (int f = 0; f < width; ++f) {
    const double sd = std::sqrt(probe.scale[f]);
    probe.scale[f] = sd > 1e-9 * std::max(1.0, std::abs(probe.mean[f])) ? sd : 1.0;
  }
  std::vector<double> x(std::size_t(n) * d), y(n), a(n);
  for (std::int64_t i = 0; i < n; ++i) {
    for (int f = 0; f < width; ++f) x[i * d + f] = (value(i, f) - probe.mean[f]) / probe.scale[f];
    x[i * d + width] = 1.0;
    y[i] = i < n0 ? 0.0 : 1.0;
    a[i] = 0.5 / static_cast<double>(i < n0 ? n0 : n1);  // each class weighs 1/2 of the mean loss
  }
  auto loss = [&](const std::vector<double>& theta) {
    double l = 0;
    for (std::int64_t i = 0; i < n; ++i) {
      double s = 0;
      for (int f = 0; f < d; ++f) s += x[i * d + f] * theta[f];
      l += a[i] * (softplus(s) - y[i] * s);
    }
    for (int f = 0; f < width; ++f) l += 0.5 * ridge * theta[f] * theta[f];
    return l;
  };

  std::vector<double> theta(d, 0.0);
  double current = loss(theta);
  constexpr int kMaxNewtonSteps = 50;
  for (int step = 0; step < kMaxNewtonSteps; ++step) {
    std::vector<double> gradient(d, 0.0), hessian(std::size_t(d) * d, 0.0);
    for (int f = 0; f < width; ++f) {
      gradient[f] = ridge * theta[f];
      hessian[std::size_t(f) * d + f] = ridge;
    }
    hessian[std::size_t(width) * d + width] = 1e-9;  // the bias is not penalised; keeps H invertible
    for (std::int64_t i = 0; i < n; ++i) {
      const double* xi = x.data() + i * d;
      double s = 0;
      for (int f = 0; f < d; ++f) s += xi[f] * theta[f];
      const double p = sigmoid(s), r = a[i] * (p - y[i]), c = a[i] * p * (1 - p);
      for (int f = 0; f < d; ++f) {
        gradient[f] += r * xi[f];
        const double cf = c * xi[f];
        double* row = hessian.data() + std::size_t(f) * d;
        for (int g = f; g < d; ++g) row[g] += cf * xi[g];
      }
    }
    for (int f = 0; f < d; ++f)
      for (int g = 0; g < f; ++g) hessian[std::size_t(f) * d + g] = hessian[std::size_t(g) * d + f];
    const std::vector<double> inverse = spd_inverse(std::move(hessian), d);
    std::vector<double> delta(d, 0.0);
    double decrement = 0;  // g^T H^-1 g: twice the predicted decrease of the loss
    for (int f = 0; f < d; ++f) {
      for (int g = 0; g < d; ++g) delta[f] -= inverse[std::size_t(f) * d + g] * gradient[g];
      decrement -= gradient[f] * delta[f];
    }
    probe.iterations = step + 1;
    if (decrement < 1e-20) break;  // converged: the Newton decrement is negligible (else rounding stops it below)
    bool moved = false;
    for (double t = 1.0; t > 1e-6 && !moved; t *= 0.5) {  // backtracking: the loss must go down
      std::vector<double> trial(d);
      for (int f = 0; f < d; ++f) trial[f] = theta[f] + t * delta[f];
      const double l = loss(trial);
      if (l <= current - 0.25 * t * decrement) {
        theta = std::move(trial);
        current = l;
        moved = true;
      }
    }
    if (!moved) break;  // at the minimum to rounding
  }
  probe.weights.assign(theta.begin(), theta.begin() + width);
  probe.bias = theta[width];
  return probe;
}

double view_probability(const ViewProbe& probe, std::span<const double> inputs) {
  CXR_CHECK(inputs.size() == probe.weights.size(), "view probe: {} inputs, the probe has {}", inputs.size(),
            probe.weights.size());
  double s = probe.bias;
  for (std::size_t f = 0; f < inputs.size(); ++f) s += probe.weights[f] * (inputs[f] - probe.mean[f]) / probe.scale[f];
  return sigmoid(s);
}

}  // namespace cxr
