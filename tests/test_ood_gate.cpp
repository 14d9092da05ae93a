// The out-of-distribution gate's and temperature scaling's math against independent
// recomputations in double (models/ood_gate.h, models/temperature.h): the Mahalanobis
// score by a covariance built entry by entry and solved by Gaussian elimination (not
// the Cholesky inverse the gate stores), the energy and max-softmax scores by their
// textbook formulas, the temperature's NLL by its definition and its minimum on a grid;
// and the sidecar: round trip, missing, corrupt, fitted for another model.
#include "engine/data/sha256.h"
#include "expect_error.h"

#include "engine/io/atomic_file.h"
#include "engine/random.h"
#include "models/gated_prediction.h"
#include "models/ood_gate.h"
#include "models/temperature.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

using namespace cxr;
namespace fs = std::filesystem;

namespace {

struct Sample {
  int n = 0, d = 0, k = 0;
  std::vector<double> x;  // [n x d]
  std::vector<int> y;
};

// Correlated features around class-dependent centres.
Sample sample(int n, int d, int k, std::uint64_t seed) {
  Generator gen(seed);
  Sample s{n, d, k, {}, {}};
  for (int i = 0; i < n; ++i) {
    const int c = i % k;
    s.y.push_back(c);
    double shared = gen.normal();
    for (int f = 0; f < d; ++f) s.x.push_back(3.0 * c * (f % 2) + 0.5 * f + gen.normal() * (1 + 0.3 * f) + shared);
  }
  return s;
}

// Solves a x = b by Gaussian elimination with partial pivoting.
std::vector<double> solve(std::vector<std::vector<double>> a, std::vector<double> b) {
  const int n = static_cast<int>(b.size());
  for (int c = 0; c < n; ++c) {
    int pivot = c;
    for (int r = c + 1; r < n; ++r)
      if (std::abs(a[r][c]) > std::abs(a[pivot][c])) pivot = r;
    std::swap(a[c], a[pivot]);
    std::swap(b[c], b[pivot]);
    for (int r = c + 1; r < n; ++r) {
      const double m = a[r][c] / a[c][c];
      for (int q = c; q < n; ++q) a[r][q] -= m * a[c][q];
      b[r] -= m * b[c];
    }
  }
  std::vector<double> x(n);
  for (int r = n - 1; r >= 0; --r) {
    double v = b[r];
    for (int q = r + 1; q < n; ++q) v -= a[r][q] * x[q];
    x[r] = v / a[r][r];
  }
  return x;
}

double reference_mahalanobis(const Sample& s, std::span<const double> point, double ridge) {
  std::vector<std::vector<double>> mean(s.k, std::vector<double>(s.d, 0.0));
  std::vector<int> count(s.k, 0);
  for (int i = 0; i < s.n; ++i) {
    ++count[s.y[i]];
    for (int f = 0; f < s.d; ++f) mean[s.y[i]][f] += s.x[i * s.d + f];
  }
  for (int c = 0; c < s.k; ++c)
    for (double& m : mean[c]) m /= count[c];
  std::vector<std::vector<double>> cov(s.d, std::vector<double>(s.d, 0.0));
  for (int a = 0; a < s.d; ++a)
    for (int b = 0; b < s.d; ++b) {
      for (int i = 0; i < s.n; ++i)
        cov[a][b] += (s.x[i * s.d + a] - mean[s.y[i]][a]) * (s.x[i * s.d + b] - mean[s.y[i]][b]);
      cov[a][b] /= s.n;
    }
  double trace = 0;
  for (int a = 0; a < s.d; ++a) trace += cov[a][a];
  for (int a = 0; a < s.d; ++a) cov[a][a] += ridge * trace / s.d;
  double best = INFINITY;
  for (int c = 0; c < s.k; ++c) {
    std::vector<double> diff(s.d);
    for (int f = 0; f < s.d; ++f) diff[f] = point[f] - mean[c][f];
    const auto solved = solve(cov, diff);
    double q = 0;
    for (int f = 0; f < s.d; ++f) q += diff[f] * solved[f];
    best = std::min(best, q);
  }
  return best;
}

}  // namespace

TEST(OodGate, MahalanobisMatchesAnIndependentSolve) {
  const Sample s = sample(300, 7, 3, 11);
  for (double ridge : {0.0, kCovarianceRidge, 0.1}) {
    const MahalanobisStats stats = fit_mahalanobis(s.x, s.y, s.k, ridge);
    Generator gen(5);
    for (int t = 0; t < 20; ++t) {
      std::vector<double> point(s.d);
      for (double& v : point) v = gen.uniform(-6, 12);
      const double want = reference_mahalanobis(s, point, ridge);
      // Both are double solves of a 7x7 system with condition number < 1e3: agreement
      // to 1e-9 relative leaves room for the different elimination orders.
      EXPECT_NEAR(mahalanobis_score(stats, point), want, 1e-9 * std::abs(want) + 1e-12) << "ridge " << ridge;
    }
  }
}

TEST(OodGate, MahalanobisOfAClassMeanIsZeroAndGrowsAway) {
  const Sample s = sample(200, 4, 2, 3);
  const MahalanobisStats stats = fit_mahalanobis(s.x, s.y, s.k);
  const std::span<const double> mean0(stats.means.data(), 4);
  EXPECT_NEAR(mahalanobis_score(stats, mean0), 0.0, 1e-12);
  std::vector<double> far(mean0.begin(), mean0.end());
  for (double& v : far) v += 100;
  EXPECT_GT(mahalanobis_score(stats, far), 100.0);
}

TEST(OodGate, MahalanobisRefusesBadInput) {
  const Sample s = sample(20, 3, 2, 1);
  std::vector<int> bad = s.y;
  bad[0] = 5;
  cxr::testing::expect_error_mentioning([&] { (void)fit_mahalanobis(s.x, bad, 2); }, {"out of range"});
  std::vector<int> one_class(s.y.size(), 0);
  cxr::testing::expect_error_mentioning([&] { (void)fit_mahalanobis(s.x, one_class, 2); },
                                        {"no training image of class 1"});
  const MahalanobisStats stats = fit_mahalanobis(s.x, s.y, 2);
  cxr::testing::expect_error_mentioning([&] { (void)mahalanobis_score(stats, std::vector<double>(2, 0.0)); },
                                        {"2 features, the gate has 3"});
}

TEST(OodGate, EnergyAndMaxSoftmaxMatchTheirFormulas) {
  const std::vector<std::vector<double>> cases{{0, 0, 0, 0}, {1, 2, 3, 4}, {-3, 7.5, 0.25, 2}, {1000, 999, -1000, 0}};
  for (const auto& z : cases) {
    // In long double, shifted by the maximum only where exp would overflow.
    long double shift = 0, sum = 0;
    for (double v : z) shift = std::max<long double>(shift, v);
    for (double v : z) sum += std::exp(static_cast<long double>(v) - shift);
    EXPECT_NEAR(energy_score(z), static_cast<double>(-(shift + std::log(sum))), 1e-12 * (1 + std::abs(z[0])));
    long double top = 0;
    for (double v : z) top = std::max(top, std::exp(static_cast<long double>(v) - shift) / sum);
    EXPECT_NEAR(max_softmax_score(z), static_cast<double>(1 - top), 1e-15);
  }
}

TEST(OodGate, ThresholdAcceptsTheRequestedShare) {
  std::vector<double> scores;
  for (int i = 1000; i >= 1; --i) scores.push_back(i);
  EXPECT_EQ(acceptance_threshold(scores, 0.995), 995);
  EXPECT_EQ(acceptance_threshold(scores, 1.0), 1000);
  EXPECT_EQ(acceptance_threshold({4.0}, 0.5), 4.0);
  EXPECT_EQ(acceptance_threshold({1, 2, 3}, 0.5), 2);  // ceil(1.5) = 2 of 3 accepted
  cxr::testing::expect_error_mentioning([&] { (void)acceptance_threshold({}, 0.9); }, {"no validation scores"});
}

TEST(Temperature, NllMatchesTheDefinitionWithLabelSets) {
  const std::vector<double> logits{2, 0, -1, 0.5, 1, 3, -2, 0};
  const std::vector<std::uint32_t> allowed{0b0001, 0b1100};  // class 0; the set {2, 3}
  for (double t : {0.3, 1.0, 2.5}) {
    double want = 0;
    for (int i = 0; i < 2; ++i) {
      double all = 0, admitted = 0;
      for (int c = 0; c < 4; ++c) {
        all += std::exp(logits[i * 4 + c] / t);
        if (allowed[i] >> c & 1u) admitted += std::exp(logits[i * 4 + c] / t);
      }
      want += -std::log(admitted / all) / 2;
    }
    EXPECT_NEAR(scaled_nll(logits, allowed, 4, t), want, 1e-13);
  }
}

TEST(Temperature, FitFindsTheMinimumOfTheNll) {
  // Over-confident logits: labels drawn from softmax(z), logits reported as 3 z.
  Generator gen(7);
  std::vector<double> logits;
  std::vector<std::uint32_t> allowed;
  for (int i = 0; i < 2000; ++i) {
    std::vector<double> z(3);
    for (double& v : z) v = gen.normal();
    const auto p = softmax_at(z, 1.0);
    const double u = gen.uniform();
    const int y = u < p[0] ? 0 : u < p[0] + p[1] ? 1 : 2;
    for (double v : z) logits.push_back(3 * v);
    allowed.push_back(1u << y);
  }
  const TemperatureFit fit = fit_temperature(logits, allowed, 3);
  EXPECT_NEAR(fit.temperature, 3.0, 0.3);  // the truth, up to the sampling noise of 2000 labels
  EXPECT_LT(fit.nll_after, fit.nll_before);
  EXPECT_NEAR(fit.nll_after, scaled_nll(logits, allowed, 3, fit.temperature), 1e-15);
  // No point of a fine grid does better (beyond the search's 1e-12 in log T).
  for (double t = 1.0; t < 6.0; t += 0.01) EXPECT_GE(scaled_nll(logits, allowed, 3, t), fit.nll_after - 1e-12);
  cxr::testing::expect_error_mentioning([&] { (void)fit_temperature(logits, std::vector<std::uint32_t>(2000, 0), 3); },
                                        {"admits no class"});
}

TEST(OodGate, TemperatureDoesNotChangeTheLabel) {
  OodGate gate;
  const Sample s = sample(60, 3, 3, 2);
  const Sample thumbs = sample(60, kThumbnailSide * kThumbnailSide, 3, 4);
  gate.mahalanobis = fit_mahalanobis(s.x, s.y, 3);
  gate.thumbnail = fit_mahalanobis(thumbs.x, thumbs.y, 3);
  gate.temperature = 2.0;
  gate.thresholds.fill(1e9);
  ModelOutputs out;
  out.classes = 3;
  out.features = 3;
  out.logits = {0.5, 2.0, -1.0};
  out.probabilities = softmax_at(out.logits, gate.temperature);
  out.pooled.assign(s.x.begin(), s.x.begin() + 3);
  out.thumbnail.assign(thumbs.x.begin(), thumbs.x.begin() + kThumbnailSide * kThumbnailSide);
  const GatedPrediction p = gated_prediction(&gate, out, 0);
  EXPECT_EQ(p.label, 1);
  EXPECT_NEAR(p.probabilities[1], std::exp(1.0) / (std::exp(0.25) + std::exp(1.0) + std::exp(-0.5)), 1e-15);
  ASSERT_TRUE(p.ood.has_value());
  EXPECT_FALSE(p.refused());
  const GatedPrediction none = gated_prediction(nullptr, out, 0);
  EXPECT_FALSE(none.ood.has_value());
  EXPECT_EQ(none.temperature, 1.0);
}

TEST(OodGate, SidecarRoundTripMissingCorruptAndForeign) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("cxr-ood-{}", ::getpid());
  fs::create_directories(dir);
  const std::string model = (dir / "m.safetensors").string();
  write_file_atomically(model, "not really a model, but bytes to hash");
  EXPECT_EQ(gate_path_for(model), (dir / "m.ood.safetensors").string());
  EXPECT_FALSE(load_gate_for(model).has_value());  // no sidecar: no gate

  OodGate gate;
  const Sample s = sample(50, 4, 2, 9);
  gate.mahalanobis = fit_mahalanobis(s.x, s.y, 2);
  const Sample thumbs = sample(300, kThumbnailSide * kThumbnailSide, 2, 8);
  gate.thumbnail = fit_mahalanobis(thumbs.x, thumbs.y, 2);
  gate.thresholds = {12.5, 300, 1.5, -3.25, 0.125};
  gate.decides = OodScore::energy;
  gate.temperature = 1.75;
  gate.fit_images = 50;
  gate.calibration_images = 7;
  gate.model_sha256 = data::file_sha256(model);
  save_gate(gate_path_for(model), gate);
  const auto loaded = load_gate_for(model);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->mahalanobis.means, gate.mahalanobis.means);
  EXPECT_EQ(loaded->mahalanobis.precision, gate.mahalanobis.precision);
  EXPECT_EQ(loaded->thumbnail.means, gate.thumbnail.means);
  EXPECT_EQ(loaded->thumbnail.precision, gate.thumbnail.precision);
  EXPECT_EQ(loaded->thresholds, gate.thresholds);
  EXPECT_EQ(loaded->decides, OodScore::energy);
  EXPECT_EQ(loaded->temperature, 1.75);
  EXPECT_EQ(loaded->fit_images, 50);

  write_file_atomically(model, "another model");
  cxr::testing::expect_error_mentioning([&] { (void)load_gate_for(model); }, {"fitted for another model file"});
  write_file_atomically(gate_path_for(model), "garbage");
  cxr::testing::expect_error_mentioning([&] { (void)load_gate_for(model); }, {"m.ood.safetensors"});
  fs::remove_all(dir);
}
