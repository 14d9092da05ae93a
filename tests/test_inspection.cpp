// `cxr inspect` (models/inspection.h, value_stats.h, feature_montage.h): every
// number it reports equals an independent float64 recomputation from the engine's
// tensors, and every gradient equals central differences of the objective.
#include "random_tensors.h"

#include "base/priority_gate.h"
#include "engine/autograd.h"
#include "engine/ops.h"
#include "models/depthwise_net.h"
#include "models/feature_montage.h"
#include "models/gradcam.h"
#include "models/inspection.h"
#include "models/inspection_json.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>

using namespace cxr;
using cxr::testing::random_tensor;

namespace {

NetConfig tiny_config() {
  NetConfig c = NetConfig::cxr_small().narrowed(0.125);
  c.blocks.resize(4);
  return c;
}

// The statistics written out the plain way, in float64, for comparison.
void expect_stats_of(const ValueStats& s, const Tensor& t, int bins) {
  std::vector<double> v;
  for (std::int64_t i = 0; i < t.numel(); ++i) v.push_back(t.at(i));
  ASSERT_FALSE(v.empty());
  const double n = static_cast<double>(v.size());
  double sum = 0, squares = 0;
  for (double x : v) sum += x, squares += x * x;
  const double mean = sum / n;
  double var = 0;
  for (double x : v) var += (x - mean) * (x - mean) / n;
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  // Sums of up to ~10^4 float64 terms in another order: agreement to 1e-12 relative.
  const auto near = [](double a, double b) {
    return std::abs(a - b) <= 1e-12 * (1 + std::abs(b));
  };
  EXPECT_EQ(s.count, t.numel());
  EXPECT_EQ(s.nonfinite, 0);
  EXPECT_PRED2(near, s.mean, mean);
  EXPECT_PRED2(near, s.std, std::sqrt(var));
  EXPECT_EQ(s.min, *lo);
  EXPECT_EQ(s.max, *hi);
  EXPECT_EQ(s.zero_fraction, static_cast<double>(std::count(v.begin(), v.end(), 0.0)) / n);
  EXPECT_PRED2(near, s.norm, std::sqrt(squares));
  if (*hi == *lo) return;
  ASSERT_EQ(s.histogram.counts.size(), static_cast<std::size_t>(bins));
  const double width = (*hi - *lo) / bins;
  for (int b = 0; b < bins; ++b) {
    const double from = *lo + b * width, to = b + 1 == bins ? INFINITY : *lo + (b + 1) * width;
    const auto in_bin = std::count_if(v.begin(), v.end(), [&](double x) { return x >= from && x < to; });
    EXPECT_EQ(s.histogram.counts[b], in_bin) << "bin " << b;
  }
}

// Central differences of J(t) at a spread of t's elements (t is modified and
// restored); h = 1e-6 in float64 as in tests/gradcheck.h, which says why atol 1e-6 +
// rtol 1e-5 is tight but safe away from ReLU kinks (random inputs stay away from them).
void expect_central_differences(Tensor t, const Tensor& grad, const std::function<double()>& J) {
  ASSERT_EQ(t.dtype(), DType::F64);
  ASSERT_EQ(t.numel(), grad.numel());
  const double step = 1e-6;
  double* a = t.data<double>();
  const std::int64_t stride = std::max<std::int64_t>(1, t.numel() / 24);
  for (std::int64_t i = 0; i < t.numel(); i += stride) {
    const double saved = a[i];
    a[i] = saved + step;
    const double plus = J();
    a[i] = saved - step;
    const double minus = J();
    a[i] = saved;
    const double numeric = (plus - minus) / (2 * step);
    ASSERT_NEAR(grad.at(i), numeric, 1e-6 + 1e-5 * std::abs(numeric)) << "element " << i;
  }
}

class Inspect : public ::testing::Test {
 protected:
  // Fresh batch norms (beta 0, running mean 0) turn an all-zero 3x3 neighbourhood of
  // a ReLU output into a pre-activation of exactly 0: a ReLU kink, where central
  // differences are wrong. Random betas and running statistics keep every
  // pre-activation away from it, as in a trained net.
  Inspect() : net(tiny_config(), 3), params(net, 4, DType::F64) {
    Generator gen(5);
    image = random_tensor({1, 1, 33, 33}, gen);
    add_(params.values(), mul_scalar(random_tensor(params.values().shape(), gen), 0.2));
    for (const auto& b : params.buffers()) {
      Tensor t = b.tensor;
      const Tensor noise = random_tensor(t.shape(), gen);
      for (std::int64_t i = 0; i < t.numel(); ++i)
        t.data<double>()[i] = b.name.ends_with("running_var") ? 1 + 0.5 * std::abs(noise.at(i)) : 0.2 * noise.at(i);
    }
  }
  double logit(int c) {
    NoGradGuard no_grad;
    return net.forward(image).at(c);
  }
  DepthwiseSeparableNet net;
  ParameterSet params;
  Tensor image;
};

}  // namespace

TEST(ValueStats, HandComputedValuesWithZerosAndNonFinite) {
  const double inf = std::numeric_limits<double>::infinity();
  const Tensor t = Tensor::from_vector(std::vector<double>{0, 4, -2, 0, NAN, inf, 2}, {7}, DType::F64);
  const ValueStats s = value_stats(t, 4);
  EXPECT_EQ(s.count, 7);
  EXPECT_EQ(s.nonfinite, 2);
  EXPECT_DOUBLE_EQ(s.mean, 0.8);  // (0 + 4 - 2 + 0 + 2) / 5
  EXPECT_DOUBLE_EQ(s.std, std::sqrt((0.64 + 10.24 + 7.84 + 0.64 + 1.44) / 5));
  EXPECT_EQ(s.min, -2);
  EXPECT_EQ(s.max, 4);
  EXPECT_DOUBLE_EQ(s.zero_fraction, 0.4);
  EXPECT_DOUBLE_EQ(s.norm, std::sqrt(24.0));
  // Bins of width 1.5 from -2: [-2, -0.5) [-0.5, 1) [1, 2.5) [2.5, 4].
  EXPECT_EQ(s.histogram.counts, (std::vector<std::int64_t>{1, 2, 1, 1}));
}

TEST(ValueStats, ConstantAndEmptyTensorsHaveOneBin) {
  const ValueStats c = value_stats(Tensor::full({3}, 1.5, DType::F32), 8);
  EXPECT_EQ(c.histogram.counts, std::vector<std::int64_t>{3});
  EXPECT_EQ(c.std, 0);
  const ValueStats e = value_stats(Tensor::zeros({0}, DType::F32), 8);
  EXPECT_EQ(e.count, 0);
  EXPECT_EQ(e.histogram.counts, std::vector<std::int64_t>{0});
}

// An inspection computes these on a background thread: over a large tensor each of
// the three passes offers the core to predictions every 16,384 values, and the
// statistics do not depend on it.
TEST(ValueStats, LongPassesYieldToPredictionsWithoutChangingTheResult) {
  Generator gen(5);
  const Tensor t = random_tensor({100000}, gen, DType::F64, -3.0, 3.0);
  const ValueStats alone = value_stats(t, 32);
  PriorityGate gate;
  const PriorityGate::Ticket prediction(gate);  // held throughout: every yield point waits (1 ms at most)
  ValueStats yielding;
  {
    const YieldScope yield(gate, std::chrono::milliseconds(1), std::chrono::hours(1));
    yielding = value_stats(t, 32);
  }
  EXPECT_EQ(gate.waits(), 3 * 6);  // 3 passes x (ceil(100000 / 16384) - 1) yield points
  EXPECT_EQ(yielding.mean, alone.mean);
  EXPECT_EQ(yielding.std, alone.std);
  EXPECT_EQ(yielding.histogram.counts, alone.histogram.counts);
}

TEST_F(Inspect, LayerStatisticsAndGradientsOfAClassScore) {
  const int target = 2, bins = 16;
  const Inspection r = inspect(net, params, image, {target, -1}, bins);
  EXPECT_FALSE(r.loss);
  EXPECT_EQ(r.target_class, target);
  EXPECT_NEAR(r.objective, logit(target), 1e-12 * (1 + std::abs(logit(target))));
  ASSERT_EQ(r.layers.size(), net.layer_names().size());
  for (const LayerInspection& l : r.layers) {
    SCOPED_TRACE(l.name);
    Tensor A;
    {
      NoGradGuard no_grad;
      A = net.forward_until(image, l.name);
    }
    EXPECT_EQ(l.shape, A.shape());
    ASSERT_EQ(l.activation_maps.numel(), A.numel());
    for (std::int64_t i = 0; i < A.numel(); ++i) ASSERT_EQ(l.activation_maps.at(i), A.at(i));
    expect_stats_of(l.activation, A, bins);
    expect_stats_of(l.gradient, l.gradient_maps, bins);
    expect_central_differences(A, l.gradient_maps, [&] {
      NoGradGuard no_grad;
      return net.forward_after(A, l.name).at(target);
    });
  }
  // The last block's gradient is the one Grad-CAM weighs.
  const Heatmap h = explain(net, image, CamMethod::GradCam, target);
  const LayerInspection& last =
      *std::find_if(r.layers.begin(), r.layers.end(), [&](const LayerInspection& l) { return l.name == h.layer; });
  for (std::int64_t i = 0; i < h.feature_grad.numel(); ++i) ASSERT_EQ(last.gradient_maps.at(i), h.feature_grad.at(i));
}

TEST_F(Inspect, ParameterStatisticsAndGradientsOfTheLoss) {
  const int label = 1, bins = 8;
  const Inspection r = inspect(net, params, image, {-1, label}, bins);
  EXPECT_TRUE(r.loss);
  EXPECT_EQ(r.target_class, label);
  EXPECT_NEAR(r.objective, -std::log(r.probabilities[label]), 1e-12);
  const auto loss = [&] {
    NoGradGuard no_grad;
    return cross_entropy(net.forward(image), {label}).item();
  };
  ASSERT_EQ(r.parameters.size(), params.parameters().size());
  for (std::size_t k = 0; k < r.parameters.size(); ++k) {
    const ParameterInspection& p = r.parameters[k];
    const auto& entry = params.parameters()[k];
    SCOPED_TRACE(p.name);
    EXPECT_EQ(p.name, entry.name);
    const Tensor grad = params.grads().view_of_storage(entry.offset, entry.tensor.shape()).clone();
    expect_stats_of(p.value, entry.tensor, bins);
    expect_stats_of(p.gradient, grad, bins);
    expect_central_differences(entry.tensor, grad, loss);
  }
  // The layer gradients are of the loss too.
  const LayerInspection& stem = r.layers.front();
  Tensor A = stem.activation_maps.clone().view(stem.shape);
  expect_central_differences(A, stem.gradient_maps, [&] {
    NoGradGuard no_grad;
    return cross_entropy(net.forward_after(A, stem.name), {label}).item();
  });
}

TEST_F(Inspect, RefusesBatchesAndUnknownClasses) {
  Generator gen(1);
  EXPECT_THROW(inspect(net, params, random_tensor({2, 1, 33, 33}, gen), {}), Error);
  EXPECT_THROW(inspect(net, params, image, {7, -1}), Error);
  EXPECT_THROW(inspect(net, params, image, {-1, 4}), Error);
}

TEST_F(Inspect, JsonCarriesEveryStatistic) {
  const Inspection r = inspect(net, params, image, {}, 4);
  const std::vector<std::string> names{"a", "b", "c", "d"};
  const boost::json::object j = to_json(r, names);
  EXPECT_EQ(j.at("objective").as_string(), "score");
  EXPECT_EQ(j.at("class").as_string(), names[r.target_class]);
  const auto& layers = j.at("layers").as_array();
  ASSERT_EQ(layers.size(), r.layers.size());
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i].as_object();
    EXPECT_EQ(l.at("name").as_string(), r.layers[i].name);
    EXPECT_EQ(l.at("gradient").at("norm").as_double(), r.layers[i].gradient.norm);
    EXPECT_EQ(l.at("activation").at("zero_fraction").as_double(), r.layers[i].activation.zero_fraction);
    EXPECT_EQ(l.at("activation").at("histogram").at("counts").as_array().size(),
              r.layers[i].activation.histogram.counts.size());
  }
  EXPECT_EQ(j.at("parameters").as_array().size(), r.parameters.size());
  EXPECT_THROW(to_json(r, {"a"}), Error);
}

TEST(FeatureMontage, GridScaleAndColours) {
  // Two 2x3 channels: one grid row of two cells, each enlarged 8x (24 / 3).
  const Tensor maps =
      Tensor::from_vector(std::vector<double>{0, 1, 2, 3, 4, 5, /**/ -2, 0, 0, 0, 0, 1}, {2, 2, 3}, DType::F64);
  const RgbImage m = feature_montage(maps, MontageColours::magnitude);
  ASSERT_EQ(m.width, 2 * 24 + 3 * 2);
  ASSERT_EQ(m.height, 16 + 2 * 2);
  const auto pixel = [&](const RgbImage& img, int x, int y) {
    const auto* p = &img.pixels[(static_cast<std::size_t>(y) * img.width + x) * 3];
    return std::array<int, 3>{p[0], p[1], p[2]};
  };
  EXPECT_EQ(pixel(m, 0, 0), (std::array<int, 3>{48, 48, 48}));               // gap
  EXPECT_EQ(pixel(m, 2, 2), (std::array<int, 3>{73, 73, 73}));               // value 0 on [-2, 5]: 255 * 2/7
  EXPECT_EQ(pixel(m, 2 + 23, 2 + 15), (std::array<int, 3>{255, 255, 255}));  // 5: the maximum
  EXPECT_EQ(pixel(m, 28, 2), (std::array<int, 3>{0, 0, 0}));                 // -2: the minimum
  const RgbImage g = feature_montage(maps, MontageColours::signed_values);
  EXPECT_EQ(pixel(g, 2 + 23, 2 + 15), (std::array<int, 3>{255, 0, 0}));  // +5 = peak: red
  EXPECT_EQ(pixel(g, 28, 2), (std::array<int, 3>{153, 153, 255}));       // -2 of 5: 255 * 3/5 left
  EXPECT_EQ(pixel(g, 2, 2), (std::array<int, 3>{255, 255, 255}));        // 0: white
  EXPECT_EQ(feature_montage(maps, MontageColours::magnitude, 1).width, 24 + 2 * 2);
  EXPECT_THROW(feature_montage(Tensor::zeros({2, 3}), MontageColours::magnitude), Error);
}

TEST(FeatureMontage, AFewOutliersDoNotSetTheScale) {
  // 400 values in one 20x20 channel: 399 at 1 and one at 1000. The 99.5th percentile
  // (nearest rank: the 398th smallest) is 1, so the ones are white, not nearly black.
  std::vector<double> v(400, 1.0);
  v[0] = 0;
  v[399] = 1000;
  const RgbImage m = feature_montage(Tensor::from_vector(v, {1, 20, 20}, DType::F64), MontageColours::magnitude);
  const int scale = 2;  // 24 / 20 rounded up
  const auto* p = &m.pixels[(static_cast<std::size_t>(2 + scale * 5) * m.width + 2 + scale * 5) * 3];
  EXPECT_EQ(p[0], 255);
}
