// The OOD gate's two newer scores (models/image_statistics.h, models/view_probe.h):
// the image statistics against a plain recomputation from their definition and on
// images whose values are known (constant, linear ramp); the view probe's fit at the
// minimum of its objective (gradient recomputed here, in double); the sidecar with
// both, and a version-1 sidecar (without them) still loading.
#include "engine/data/sha256.h"
#include "expect_error.h"

#include "engine/io/atomic_file.h"
#include "engine/io/safetensors.h"
#include "engine/random.h"
#include "models/image_statistics.h"
#include "models/ood_fit.h"
#include "models/ood_gate.h"
#include "models/view_probe.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>

using namespace cxr;
namespace fs = std::filesystem;

namespace {

std::vector<double> statistics_of(const std::vector<double>& image, int h, int w) {
  std::vector<double> out;
  append_image_statistics(out, image.data(), h, w);
  EXPECT_EQ(out.size(), static_cast<std::size_t>(kImageStatistics));
  return out;
}

// The bin of v: 0 below lo, then `inner` bins of `width`, then the last bin.
int bin_of(double v, double lo, double width, int inner) {
  if (!(v >= lo)) return 0;
  int b = 1;
  while (b <= inner && v >= lo + b * width) ++b;
  return b;
}

// The statistics written out from the header's definition, one feature at a time.
std::vector<double> reference_statistics(const std::vector<double>& x, int h, int w) {
  const double n = h * w;
  const double mean = std::accumulate(x.begin(), x.end(), 0.0) / n;
  double ss = 0;
  for (double v : x) ss += (v - mean) * (v - mean);
  const double sd = std::sqrt(ss / n) > kFlatImageSd ? std::sqrt(ss / n) : 0.0;
  auto z = [&](int r, int c) {
    return sd > 0 ? (x[r * w + c] - mean) / sd : 0.0;
  };
  std::vector<double> out{mean, sd};
  std::vector<double> hist(16, 0.0);
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < w; ++c) {
      int b = 0;
      while (b < 15 && z(r, c) >= -3.0 + (b + 1) * 0.375) ++b;
      hist[b] += 1 / n;
    }
  out.insert(out.end(), hist.begin(), hist.end());
  std::vector<double> grad(9, 0.0);
  double slope = 0;
  for (int r = 0; r + 1 < h; ++r)
    for (int c = 0; c + 1 < w; ++c) {
      const double dx = z(r, c + 1) - z(r, c), dy = z(r + 1, c) - z(r, c), g = std::sqrt(dx * dx + dy * dy);
      slope += g;
      grad[bin_of(g > 0 ? std::log10(g) : -1e300, -3.0, 0.5, 7)] += 1.0 / ((h - 1) * (w - 1));
    }
  out.insert(out.end(), grad.begin(), grad.end());
  std::vector<double> blocks(8, 0.0);
  const int nb = (h / 8) * (w / 8);
  for (int br = 0; br + 8 <= h; br += 8)
    for (int bc = 0; bc + 8 <= w; bc += 8) {
      double m = 0;
      for (int r = br; r < br + 8; ++r)
        for (int c = bc; c < bc + 8; ++c) m += z(r, c) / 64;
      double v = 0;
      for (int r = br; r < br + 8; ++r)
        for (int c = bc; c < bc + 8; ++c) v += (z(r, c) - m) * (z(r, c) - m) / 64;
      blocks[bin_of(v > 1e-24 ? std::log10(std::sqrt(v)) : -1e300, -2.5, 0.5, 6)] += 1.0 / nb;
    }
  out.insert(out.end(), blocks.begin(), blocks.end());
  double curvature = 0;
  for (int r = 1; r + 1 < h; ++r)
    for (int c = 1; c + 1 < w; ++c)
      curvature += std::abs(z(r - 1, c) + z(r + 1, c) + z(r, c - 1) + z(r, c + 1) - 4 * z(r, c));
  out.push_back(sd > 0 ? std::log10((curvature / ((h - 2) * (w - 2)) + 1e-6) / (slope / ((h - 1) * (w - 1)) + 1e-6))
                       : 0.0);
  return out;
}

}  // namespace

TEST(ImageStatistics, MatchTheirDefinitionOnARandomImage) {
  Generator gen(3);
  const int h = 40, w = 56;
  std::vector<double> image(h * w);
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < w; ++c) image[r * w + c] = 0.02 * r - 0.01 * c + 0.3 * gen.normal();
  const auto got = statistics_of(image, h, w);
  const auto want = reference_statistics(image, h, w);
  ASSERT_EQ(got.size(), want.size());
  // Sums of a few thousand doubles in another order: 1e-12 is far above their rounding
  // and far below one pixel's share of a histogram (1 / 2240).
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12) << "statistic " << i;
}

TEST(ImageStatistics, ConstantImageAndLinearRamp) {
  const int s = 32;
  const auto blank = statistics_of(std::vector<double>(s * s, 0.7), s, s);
  EXPECT_NEAR(blank[0], 0.7, 1e-12);  // a sum of 1024 copies of 0.7, divided
  EXPECT_EQ(blank[1], 0.0);
  EXPECT_EQ(blank[2 + 8], 1.0);  // z = 0: the bin [0, 0.375)
  EXPECT_EQ(blank[18], 1.0);     // no gradient anywhere
  EXPECT_EQ(blank[27], 1.0);     // every block flat
  EXPECT_EQ(blank[35], 0.0);

  std::vector<double> ramp(s * s);
  for (int r = 0; r < s; ++r)
    for (int c = 0; c < s; ++c) ramp[r * s + c] = c;
  const auto st = statistics_of(ramp, s, s);
  // z steps by 1 / sd per column, sd of 0..31 = sqrt((32^2 - 1) / 12): one gradient bin.
  const double step = 1.0 / std::sqrt((s * s - 1) / 12.0);
  const int bin = 18 + bin_of(std::log10(step), -3.0, 0.5, 7);
  EXPECT_EQ(st[bin], 1.0) << "log10 step " << std::log10(step);
  // |z| <= sqrt(3): the three outer bins on each side of the intensity histogram stay empty.
  for (int i : {2, 3, 4, 15, 16, 17}) EXPECT_EQ(st[i], 0.0) << "intensity bin " << i - 2;
  EXPECT_NEAR(std::accumulate(st.begin() + 2, st.begin() + 18, 0.0), 1.0, 1e-12);
  // Each 8-column block: sd of 0..7 steps = step sqrt(63 / 12), one bin for all.
  EXPECT_EQ(st[27 + bin_of(std::log10(step * std::sqrt(63.0 / 12)), -2.5, 0.5, 6)], 1.0);
  EXPECT_LT(st[35], -4.0);  // no curvature: log10(1e-6 / step)
}

// The gate's form of the statistics (format version 3): every share s of the three
// histograms as log10(s + 0.01), the other four statistics as they are.
TEST(ImageStatistics, LogSharesOfTwoRows) {
  const int s = 32;
  auto rows = statistics_of(std::vector<double>(s * s, 0.7), s, s);
  std::vector<double> ramp(s * s);
  for (int i = 0; i < s * s; ++i) ramp[i] = i % s;
  const auto second = statistics_of(ramp, s, s);
  rows.insert(rows.end(), second.begin(), second.end());
  const auto logged = log_shares(rows);
  ASSERT_EQ(logged.size(), rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto column = static_cast<int>(i % kImageStatistics);
    const bool share = column >= 2 && column < 35;
    // one log10 of a double: a few ulps
    EXPECT_NEAR(logged[i], share ? std::log10(rows[i] + 0.01) : rows[i], 1e-15) << "value " << i;
  }
  EXPECT_NEAR(logged[2 + 8], std::log10(1.01), 1e-15);  // the blank image's one intensity bin
  EXPECT_NEAR(logged[2], -2.0, 1e-15);                  // an empty bin: the floor
  cxr::testing::expect_error_mentioning([&] { (void)log_shares(std::vector<double>(35, 0.0)); }, {"rows of 36"});
}

TEST(ImageStatistics, RefuseTinyImages) {
  std::vector<double> out;
  const std::vector<double> one(4, 0.0);
  cxr::testing::expect_error_mentioning([&] { append_image_statistics(out, one.data(), 1, 4); }, {"too small"});
}

namespace {

struct ProbeData {
  int width = 5;
  std::vector<double> frontal, lateral;
};

// Two overlapping Gaussian clouds, unbalanced (200 vs 30), one input constant.
ProbeData probe_data(std::uint64_t seed) {
  Generator gen(seed);
  ProbeData d;
  for (int i = 0; i < 230; ++i) {
    const bool lateral = i >= 200;
    auto& rows = lateral ? d.lateral : d.frontal;
    rows.push_back(gen.normal() + (lateral ? 1.5 : 0.0));
    rows.push_back(2.0 * gen.normal() - (lateral ? 1.0 : 0.0));
    rows.push_back(gen.normal() * 0.1 + 3.0);
    rows.push_back(4.0);  // constant: scale 1, weight 0
    rows.push_back(gen.normal());
  }
  return d;
}

}  // namespace

TEST(ViewProbe, FitIsTheMinimumOfItsObjective) {
  const ProbeData d = probe_data(11);
  const double ridge = 0.05;
  const ViewProbe p = fit_view_probe(d.frontal, d.lateral, d.width, ridge);
  ASSERT_EQ(p.weights.size(), 5u);
  EXPECT_EQ(p.scale[3], 1.0);
  EXPECT_NEAR(p.weights[3], 0.0, 1e-12);
  // The gradient of sum_i a_i (log(1 + e^s_i) - y_i s_i) + ridge/2 |w|^2, a_i = 1 / (2 n_class),
  // recomputed on the probe's own standardisation, vanishes at its solution.
  std::vector<double> grad(6, 0.0);
  for (int f = 0; f < 5; ++f) grad[f] = ridge * p.weights[f];
  auto add = [&](const std::vector<double>& rows, double y, double a) {
    for (std::size_t i = 0; i < rows.size() / 5; ++i) {
      const std::span<const double> x(rows.data() + i * 5, 5);
      const double prob = view_probability(p, x);
      for (int f = 0; f < 5; ++f) grad[f] += a * (prob - y) * (x[f] - p.mean[f]) / p.scale[f];
      grad[5] += a * (prob - y);
    }
  };
  add(d.frontal, 0.0, 0.5 / 200);
  add(d.lateral, 1.0, 0.5 / 30);
  for (double g : grad) EXPECT_NEAR(g, 0.0, 1e-9);  // Newton converges quadratically: far below this
  EXPECT_LE(p.iterations, 50);
  EXPECT_GT(p.weights[0], 0.0);  // the laterals lie at larger input 0, smaller input 1
  EXPECT_LT(p.weights[1], 0.0);
}

TEST(ViewProbe, RefusesBadInput) {
  const ProbeData d = probe_data(12);
  cxr::testing::expect_error_mentioning([&] { (void)fit_view_probe(d.frontal, {}, d.width); }, {"frontal and lateral"});
  cxr::testing::expect_error_mentioning([&] { (void)fit_view_probe(d.frontal, d.lateral, 7); }, {"rows of 7"});
  const ViewProbe p = fit_view_probe(d.frontal, d.lateral, d.width);
  const std::vector<double> three(3, 0.0);
  cxr::testing::expect_error_mentioning([&] { (void)view_probability(p, three); }, {"3 inputs"});
  EXPECT_EQ(view_probe_frontals(5).size(), 5u);
  EXPECT_EQ(view_probe_frontals(4001).size(), 1334u);  // stride 3
}

TEST(OodGate, SidecarWithStatisticsAndViewAndAVersionOneSidecar) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("cxr-ood-stats-{}", ::getpid());
  fs::create_directories(dir);
  const std::string model = (dir / "m.safetensors").string();
  write_file_atomically(model, "model bytes");
  Generator gen(5);
  auto cloud = [&gen](int n, int d) {
    std::vector<double> x;
    for (int i = 0; i < n * d; ++i) x.push_back(gen.normal() + (i % d) * 0.1);
    return x;
  };
  const int features = 3, cells = kThumbnailSide * kThumbnailSide;
  OodGate gate;
  gate.mahalanobis = fit_mahalanobis(cloud(20, features), std::vector<int>(20, 0), 1);
  gate.thumbnail = fit_mahalanobis(cloud(300, cells), std::vector<int>(300, 0), 1);
  gate.statistics = fit_mahalanobis(cloud(60, kImageStatistics), std::vector<int>(60, 0), 1);
  gate.view = fit_view_probe(cloud(40, features + cells), cloud(10, features + cells), features + cells, 1.0);
  gate.thresholds = {10, 300, 40, 0.5, 1.25, -2, 0.5};
  gate.limits = {12, 350, 45, 0.75, 1, 1, 1};
  gate.model_sha256 = data::file_sha256(model);
  save_gate(gate_path_for(model), gate);
  const auto loaded = load_gate_for(model);
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->statistics.means, gate.statistics.means);
  EXPECT_EQ(loaded->statistics.precision, gate.statistics.precision);
  EXPECT_EQ(loaded->view.weights, gate.view.weights);
  EXPECT_EQ(loaded->view.mean, gate.view.mean);
  EXPECT_EQ(loaded->view.scale, gate.view.scale);
  EXPECT_EQ(loaded->view.bias, gate.view.bias);
  EXPECT_EQ(loaded->thresholds, gate.thresholds);
  for (OodScore part : {OodScore::mahalanobis, OodScore::thumbnail, OodScore::statistics, OodScore::view})
    EXPECT_EQ(loaded->limit(part), gate.limit(part)) << ood_score_name(part);

  // combined is the largest ratio of the four parts to their limits.
  ModelOutputs out;
  out.classes = 2;
  out.features = features;
  out.logits = {0.5, -0.5};
  out.probabilities = {0.7, 0.3};
  out.pooled = cloud(1, features);
  out.thumbnail = cloud(1, cells);
  std::vector<double> image(32 * 32);
  for (double& v : image) v = gen.normal();
  out.statistics = statistics_of(image, 32, 32);  // shares in [0, 1], as log_shares expects
  const OodScores s = loaded->scores(out, 0);
  double largest = 0;
  for (OodScore part : {OodScore::mahalanobis, OodScore::thumbnail, OodScore::statistics, OodScore::view})
    largest = std::max(largest, s[part] / loaded->limit(part));
  EXPECT_EQ(s[OodScore::combined], largest);
  EXPECT_GT(s[OodScore::statistics], 0.0);
  EXPECT_GT(s[OodScore::view], 0.0);
  EXPECT_TRUE(loaded->statistics_log_shares);  // written as version 3
  EXPECT_EQ(s[OodScore::statistics], mahalanobis_score(loaded->statistics, log_shares(out.statistics)));

  // A sidecar written before the two scores (format version 1) loads without them.
  const auto& m = gate.mahalanobis;
  const auto& t = gate.thumbnail;
  std::map<std::string, std::string> meta{{"format", kGateFormat},
                                          {"format_version", "1"},
                                          {"decides", "combined"},
                                          {"accept_rate", "0.995"},
                                          {"temperature", "1"},
                                          {"fit_images", "20"},
                                          {"calibration_images", "5"},
                                          {"model_sha256", gate.model_sha256},
                                          {"threshold.mahalanobis", "10"},
                                          {"threshold.thumbnail", "300"},
                                          {"threshold.combined", "1.25"},
                                          {"threshold.energy", "-2"},
                                          {"threshold.max_softmax", "0.5"}};
  save_safetensors(gate_path_for(model),
                   {{"mahalanobis.means", Tensor::from_vector(m.means, {m.classes, m.features}, DType::F64)},
                    {"mahalanobis.precision", Tensor::from_vector(m.precision, {m.features, m.features}, DType::F64)},
                    {"thumbnail.means", Tensor::from_vector(t.means, {t.classes, t.features}, DType::F64)},
                    {"thumbnail.precision", Tensor::from_vector(t.precision, {t.features, t.features}, DType::F64)}},
                   meta);
  const auto old = load_gate_for(model);
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->statistics.features, 0);
  EXPECT_TRUE(old->view.empty());
  const OodScores o = old->scores(out, 0);
  EXPECT_EQ(o[OodScore::statistics], 0.0);
  EXPECT_EQ(o[OodScore::view], 0.0);
  EXPECT_EQ(o[OodScore::combined], std::max(o[OodScore::mahalanobis] / 10, o[OodScore::thumbnail] / 300));
  fs::remove_all(dir);
}

// A version-2 sidecar was fitted on linear shares and keeps being scored on them; a
// version this build does not know is refused with what to do.
TEST(OodGate, VersionTwoSidecarScoresLinearSharesAndAnUnknownVersionIsRefused) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("cxr-ood-v2-{}", ::getpid());
  fs::create_directories(dir);
  const std::string model = (dir / "m.safetensors").string();
  write_file_atomically(model, "model bytes");
  Generator gen(8);
  auto cloud = [&gen](int n, int d) {
    std::vector<double> x;
    for (int i = 0; i < n * d; ++i) x.push_back(gen.normal());
    return x;
  };
  OodGate gate;
  gate.mahalanobis = fit_mahalanobis(cloud(20, 3), std::vector<int>(20, 0), 1);
  gate.thumbnail = fit_mahalanobis(cloud(300, kThumbnailSide * kThumbnailSide), std::vector<int>(300, 0), 1);
  gate.statistics = fit_mahalanobis(cloud(60, kImageStatistics), std::vector<int>(60, 0), 1);
  gate.model_sha256 = data::file_sha256(model);
  const std::string path = gate_path_for(model);
  save_gate(path, gate);
  auto rewrite_version = [&path](const std::string& version) {
    SafetensorsFile f = load_safetensors(path);
    f.metadata["format_version"] = version;
    save_safetensors(path, {f.tensors.begin(), f.tensors.end()}, f.metadata);
  };
  rewrite_version("2");
  const OodGate v2 = load_gate(path);
  EXPECT_FALSE(v2.statistics_log_shares);
  std::vector<double> image(32 * 32);
  for (double& v : image) v = gen.normal();
  ModelOutputs out;
  out.classes = 1;
  out.features = 3;
  out.logits = {0.0};
  out.probabilities = {1.0};
  out.pooled = cloud(1, 3);
  out.thumbnail = cloud(1, kThumbnailSide * kThumbnailSide);
  out.statistics = statistics_of(image, 32, 32);
  EXPECT_EQ(v2.scores(out, 0)[OodScore::statistics], mahalanobis_score(v2.statistics, out.statistics));
  save_gate(path, v2);  // stays version 2: its statistics are linear
  EXPECT_FALSE(load_gate(path).statistics_log_shares);
  rewrite_version("4");
  cxr::testing::expect_error_mentioning([&] { (void)load_gate(path); },
                                        {path, "format version '4'", "1 to 3", "cxr ood fit"});
  fs::remove_all(dir);
}

// combined's limits: the parts' values at the lowest common rank at which all of them
// together accept the requested share of the validation images.
TEST(OodGate, CombinedLimitsShareOneRankOfTheValidationScores) {
  OodGate gate;
  Generator gen(21);
  auto cloud = [&gen](int n, int d) {
    std::vector<double> x;
    for (int i = 0; i < n * d; ++i) x.push_back(gen.normal());
    return x;
  };
  const int features = 3, cells = kThumbnailSide * kThumbnailSide;
  gate.mahalanobis = fit_mahalanobis(cloud(50, features), std::vector<int>(50, 0), 1);
  gate.thumbnail = fit_mahalanobis(cloud(400, cells), std::vector<int>(400, 0), 1);
  ModelOutputs val;
  val.classes = 1;
  val.features = features;
  const int n = 200;
  val.pooled = cloud(n, features);
  val.thumbnail = cloud(n, cells);
  val.logits.assign(n, 0.0);
  val.probabilities.assign(n, 1.0);
  val.statistics.assign(std::size_t(n) * kImageStatistics, 0.0);
  calibrate_thresholds(gate, val, 0.95);
  std::vector<double> m, t;
  for (int i = 0; i < n; ++i) {
    m.push_back(mahalanobis_score(gate.mahalanobis, val.pooled_of(i)));
    t.push_back(mahalanobis_score(gate.thumbnail, val.thumbnail_of(i)));
  }
  // Brute force: the smallest k with both parts' k-th smallest values accepting >= 190.
  auto sorted_m = m, sorted_t = t;
  std::sort(sorted_m.begin(), sorted_m.end());
  std::sort(sorted_t.begin(), sorted_t.end());
  int k = 190;
  auto accepted = [&](int kk) {
    int a = 0;
    for (int i = 0; i < n; ++i) a += m[i] <= sorted_m[kk - 1] && t[i] <= sorted_t[kk - 1];
    return a;
  };
  while (accepted(k) < 190) ++k;
  EXPECT_GT(k, 190);  // two independent parts: their tails differ
  EXPECT_EQ(gate.limit(OodScore::mahalanobis), sorted_m[k - 1]);
  EXPECT_EQ(gate.limit(OodScore::thumbnail), sorted_t[k - 1]);
  EXPECT_EQ(gate.threshold(OodScore::mahalanobis), sorted_m[189]);  // its own: 95 %
  int combined_accepted = 0;
  for (int i = 0; i < n; ++i) combined_accepted += !gate.verdict(val, i).refused;
  EXPECT_GE(combined_accepted, 190);
}
