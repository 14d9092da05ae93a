// The explanation methods of models/explain/: each against a brute-force
// definition on a tiny float64 net (finite differences, explicit loops over the
// published formulas, one unbatched forward pass per perturbed image).
#include "gradcheck.h"

#include "engine/autograd.h"
#include "engine/ops.h"
#include "models/depthwise_net.h"
#include "models/explain/cam_family.h"
#include "models/explain/gradient_attribution.h"
#include "models/explain/occlusion.h"
#include "models/explain/registry.h"
#include "models/gradcam.h"

#include <cmath>
#include <cstdio>
#include <map>

using namespace cxr;
using cxr::testing::random_tensor;

namespace {

NetConfig tiny_config() {
  NetConfig c = NetConfig::cxr_small().narrowed(0.125);
  c.blocks.resize(4);
  c.dropout = 0.3;
  return c;
}

// A float64 net and image: every comparison below is against float64 arithmetic.
// The parameters are jittered so that the batch-norm shifts are not 0: a fresh net
// without biases is positively homogeneous (f(a x) = a f(x)), which would make
// Integrated Gradients exact at any step count and hide its error.
struct TinyNet : ::testing::Test {
  DepthwiseSeparableNet net{tiny_config(), 3};
  ParameterSet params{net, 4, DType::F64};
  Generator gen{5};
  Tensor image = random_tensor({1, 1, 33, 33}, gen);

  TinyNet() {
    double* v = params.values().data<double>();
    for (std::int64_t i = 0; i < params.values().numel(); ++i) v[i] += 0.2 * gen.normal();
  }

  double score(const Tensor& x, int target) {
    net.eval();
    NoGradGuard no_grad;
    return net.forward(x).at(target);
  }
};

// Float64 results of the same sums in another order agree to ~1e-13 relative; 1e-9
// leaves room for the longer sums (up to ~1000 terms) without hiding a wrong term.
void expect_maps_near(const Tensor& got, const std::vector<double>& want, double tol = 1e-9) {
  ASSERT_EQ(got.numel(), static_cast<std::int64_t>(want.size()));
  for (std::size_t j = 0; j < want.size(); ++j) ASSERT_NEAR(got.at(j), want[j], tol) << "pixel " << j;
}

// ReLU and divide by the peak, the maps' normalisation.
std::vector<double> normalised(std::vector<double> v) {
  double peak = 0;
  for (double& x : v) peak = std::max(peak, x = std::max(x, 0.0));
  if (peak > 0)
    for (double& x : v) x /= peak;
  return v;
}

std::vector<double> upsampled(const std::vector<double>& coarse, std::int64_t h, std::int64_t w, std::int64_t H,
                              std::int64_t W) {
  NoGradGuard no_grad;
  return resize_bilinear(Tensor::from_vector(coarse, {1, 1, h, w}, DType::F64), static_cast<int>(H),
                         static_cast<int>(W))
      .to_vector();
}

TEST_F(TinyNet, InputGradientEqualsCentralDifferences) {
  const int target = 1;
  const Tensor g = input_gradients(net, image, {target});
  Tensor x = image.clone();
  double* p = x.data<double>();
  // h = 1e-6 in float64: see tests/gradcheck.h for why atol 1e-6 + rtol 1e-5 is tight but safe.
  const double step = 1e-6;
  for (std::int64_t i = 0; i < x.numel(); i += 7) {
    const double saved = p[i];
    p[i] = saved + step;
    const double plus = score(x, target);
    p[i] = saved - step;
    const double minus = score(x, target);
    p[i] = saved;
    const double numeric = (plus - minus) / (2 * step);
    ASSERT_NEAR(g.at(i), numeric, 1e-6 + 1e-5 * std::abs(numeric)) << "pixel " << i;
  }
}

TEST_F(TinyNet, BatchedInputGradientsEqualOneImageAtATime) {
  const Tensor batch = random_tensor({3, 1, 33, 33}, gen);
  const std::vector<int> targets{0, 2, 1};
  const Tensor together = input_gradients(net, batch, targets);
  for (std::int64_t i = 0; i < 3; ++i) {
    const Tensor alone = input_gradients(net, batch.slice_rows(i, i + 1).contiguous(), {targets[i]});
    for (std::int64_t j = 0; j < alone.numel(); ++j)
      ASSERT_NEAR(together.at(i * alone.numel() + j), alone.at(j), 1e-12);
  }
}

TEST_F(TinyNet, SaliencyAndInputTimesGradientFollowTheirDefinitions) {
  const int target = 2;
  const std::vector<double> g = input_gradients(net, image, {target}).to_vector(), x = image.to_vector();
  std::vector<double> abs_g, xg;
  for (std::size_t j = 0; j < g.size(); ++j) {
    abs_g.push_back(std::abs(g[j]));
    xg.push_back(x[j] * g[j]);
  }
  expect_maps_near(explain_with(net, image, "saliency", target).map, normalised(abs_g));
  expect_maps_near(explain_with(net, image, "inputxgrad", target).map, normalised(xg));
}

TEST_F(TinyNet, IntegratedGradientsWithOneStepIsTheMidpointGradientTimesInput) {
  const int target = 0;
  ExplainSettings one;
  one.ig_steps = 1;
  const std::vector<double> x = image.to_vector();
  std::vector<double> half;
  for (double v : x) half.push_back(v / 2);
  const std::vector<double> g =
      input_gradients(net, Tensor::from_vector(half, image.shape(), DType::F64), {target}).to_vector();
  std::vector<double> want;
  for (std::size_t j = 0; j < g.size(); ++j) want.push_back(x[j] * g[j]);
  const std::vector<double> got = raw_attribution(net, image, target, GradientMethod::IntegratedGradients, one);
  expect_maps_near(Tensor::from_vector(got, {33, 33}, DType::F64), want, 1e-12);
}

TEST_F(TinyNet, IntegratedGradientsCompletenessErrorShrinksWithSteps) {
  const int target = 1;
  auto error = [&](int steps) {
    ExplainSettings s;
    s.ig_steps = steps;
    s.batch = 7;  // not a divisor of the step counts: the last batch is partial
    const Explanation e = explain_with(net, image, "integrated-gradients", target, s);
    std::map<std::string, double> facts(e.facts.begin(), e.facts.end());
    EXPECT_EQ(facts.at("ig_steps"), steps);
    EXPECT_NEAR(facts.at("score_difference"), score(image, target) - score(Tensor::zeros_like(image), target), 1e-12);
    return facts.at("completeness_error");
  };
  const double coarse = error(2), fine = error(32), finest = error(512);
  const double difference = std::abs(score(image, target) - score(Tensor::zeros_like(image), target));
  std::printf("IG completeness error: %.3g (2 steps), %.3g (32), %.3g (512); score difference %.3g\n", coarse, fine,
              finest, difference);
  EXPECT_LT(fine, coarse);
  EXPECT_LT(finest, fine);
  // The net is piecewise linear along the path, so the midpoint rule's error falls
  // irregularly (measured 0.046, 0.017, 0.0004 for a score difference of 0.036);
  // 512 steps must remove at least 98 % of the 2-step error.
  EXPECT_LT(finest, 0.02 * coarse);
}

TEST_F(TinyNet, SmoothGradWithoutNoiseIsTheMethodItself) {
  ExplainSettings s;
  s.smoothgrad_samples = 3;
  s.smoothgrad_sigma = 0;
  const Explanation smooth = explain_with(net, image, "inputxgrad", 1, s);
  EXPECT_EQ(smooth.method, "smoothgrad-inputxgrad");
  expect_maps_near(smooth.map, explain_with(net, image, "inputxgrad", 1).map.to_vector(), 1e-12);
  // With noise: the same seed gives the same map, another seed another one.
  s.smoothgrad_sigma = 0.2;
  const Tensor a = explain_with(net, image, "smoothgrad", 1, s).map;
  expect_maps_near(explain_with(net, image, "smoothgrad", 1, s).map, a.to_vector(), 0);
  s.seed = 2;
  const Tensor b = explain_with(net, image, "smoothgrad", 1, s).map;
  double differs = 0;
  for (std::int64_t j = 0; j < a.numel(); ++j) differs = std::max(differs, std::abs(a.at(j) - b.at(j)));
  EXPECT_GT(differs, 1e-3);
}

TEST_F(TinyNet, BatchedSmoothGradEqualsOneCopyAtATime) {
  ExplainSettings one;
  one.smoothgrad_samples = 5;
  one.smoothgrad_sigma = 0.2;
  one.batch = 1;
  ExplainSettings batched = one;
  batched.batch = 2;  // not a divisor of 5: the last pass has one copy
  // The same noisy copies in the same order; only the batched convolutions sum in
  // another order: float64 rounding (~1e-16 relative) on maps with peak 1.
  for (const char* method : {"smoothgrad", "inputxgrad"}) {
    expect_maps_near(explain_with(net, image, method, 1, batched).map,
                     explain_with(net, image, method, 1, one).map.to_vector(), 1e-12);
  }
  // The bundled model runs in float32: the same net with float32 parameters.
  DepthwiseSeparableNet net32{tiny_config(), 3};
  ParameterSet params32{net32, 4, DType::F32};
  const std::vector<double> v = params.values().to_vector();
  for (std::int64_t i = 0; i < params32.values().numel(); ++i)
    params32.values().data<float>()[i] = static_cast<float>(v[i]);
  const Tensor image32 = image.to(DType::F32);
  // Float32 rounding (6e-8 relative) grows through the net's sums of up to a few
  // hundred terms to ~1e-5 of the peak; 1e-4 is still far below the change a wrong
  // or reordered noise copy makes (the seeds above differ by more than 1e-3).
  expect_maps_near(explain_with(net32, image32, "smoothgrad", 1, batched).map,
                   explain_with(net32, image32, "smoothgrad", 1, one).map.to_vector(), 1e-4);
}

TEST_F(TinyNet, HiResCamXGradCamAndLayerCamFollowTheirDefinitions) {
  const int target = 2;
  const Heatmap h = explain(net, image, CamMethod::GradCam, target);
  const std::int64_t C = h.feature_map.size(0), hw = h.feature_map.size(1) * h.feature_map.size(2);
  const std::vector<double> A = h.feature_map.to_vector(), g = h.feature_grad.to_vector();
  std::vector<double> hires(hw, 0.0), layer(hw, 0.0), xgrad(hw, 0.0);
  for (std::int64_t k = 0; k < C; ++k) {
    double sum_A = 0, sum_Ag = 0;
    for (std::int64_t j = 0; j < hw; ++j) {
      sum_A += A[k * hw + j];
      sum_Ag += A[k * hw + j] * g[k * hw + j];
    }
    for (std::int64_t j = 0; j < hw; ++j) {
      hires[j] += g[k * hw + j] * A[k * hw + j];
      layer[j] += std::max(g[k * hw + j], 0.0) * A[k * hw + j];
      if (sum_A != 0) xgrad[j] += sum_Ag / sum_A * A[k * hw + j];
    }
  }
  expect_maps_near(explain_with(net, image, "hirescam", target).grid, normalised(hires));
  expect_maps_near(explain_with(net, image, "xgradcam", target).grid, normalised(xgrad));
  ExplainSettings last;
  last.layers = {net.cam_layer()};
  for (double& v : layer) v = std::max(v, 0.0);
  const std::vector<double> up = upsampled(layer, h.feature_map.size(1), h.feature_map.size(2), 33, 33);
  expect_maps_near(explain_with(net, image, "layercam", target, last).map, normalised(up));
}

TEST_F(TinyNet, LayerCamAveragesTheLayersMaps) {
  ExplainSettings two;
  two.layers = {"blocks.1", "blocks.3"};
  std::vector<double> mean(33 * 33, 0.0);
  for (const auto& layer : two.layers) {
    ExplainSettings one;
    one.layers = {layer};
    const std::vector<double> m = explain_with(net, image, "layercam", 0, one).map.to_vector();
    for (std::size_t j = 0; j < m.size(); ++j) mean[j] += m[j] / 2;
  }
  const Explanation fused = explain_with(net, image, "layercam", 0, two);
  EXPECT_EQ(fused.layer, "blocks.1+blocks.3");
  expect_maps_near(fused.map, normalised(mean));
}

TEST_F(TinyNet, ScoreCamWeightsComeFromMaskedForwardPasses) {
  const int target = 1;
  const Heatmap h = explain(net, image, CamMethod::GradCam, target);
  const std::int64_t C = h.feature_map.size(0), fh = h.feature_map.size(1), fw = h.feature_map.size(2);
  const std::vector<double> A = h.feature_map.to_vector(), x = image.to_vector();
  std::vector<double> scores;
  for (std::int64_t k = 0; k < C; ++k) {
    std::vector<double> mask =
        upsampled(std::vector<double>(A.begin() + k * fh * fw, A.begin() + (k + 1) * fh * fw), fh, fw, 33, 33);
    const double lo = *std::min_element(mask.begin(), mask.end()), hi = *std::max_element(mask.begin(), mask.end());
    for (std::size_t j = 0; j < mask.size(); ++j) mask[j] = hi > lo ? x[j] * (mask[j] - lo) / (hi - lo) : 0.0;
    scores.push_back(score(Tensor::from_vector(mask, image.shape(), DType::F64), target));
  }
  double total = 0;
  for (double s : scores) total += std::exp(s);
  std::vector<double> cam(fh * fw, 0.0);
  for (std::int64_t k = 0; k < C; ++k)
    for (std::int64_t j = 0; j < fh * fw; ++j) cam[j] += std::exp(scores[k]) / total * A[k * fh * fw + j];
  ExplainSettings s;
  s.batch = 3;  // C is not a multiple of 3: a partial last batch
  expect_maps_near(explain_with(net, image, "scorecam", target, s).grid, normalised(cam));
}

TEST(EigenCam, FirstPrincipalComponentOfAKnownMatrix) {
  // Rows t_r * u + s_r * v with u, v orthonormal and t of much larger spread than s:
  // the first component is u, oriented so that the projections sum positive.
  // s has mean 0 and is orthogonal to t - mean(t), so the covariance is exactly
  // var(t) u u' + var(s) v v'.
  const std::vector<double> u{0.6, 0.8, 0}, v{0, 0, 1};
  const std::vector<double> t{1, 3, -2, 5, 4}, s{-0.125, 0.075, 0.05, 0, 0};
  std::vector<double> X;
  for (std::size_t r = 0; r < t.size(); ++r)
    for (int c = 0; c < 3; ++c) X.push_back(t[r] * u[c] + s[r] * v[c]);
  const std::vector<double> pc = first_principal_component(X, 5, 3);
  // Power iteration stops when a step moves < 1e-13; with this eigenvalue gap the
  // remaining error is of that order.
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(pc[c], u[c], 1e-10);
  std::vector<double> negated = X;
  for (double& x : negated) x = -x;
  const std::vector<double> flipped = first_principal_component(negated, 5, 3);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(flipped[c], -u[c], 1e-10);
}

TEST_F(TinyNet, EigenCamProjectsOnTheFirstComponentAndIgnoresTheClass) {
  const Heatmap h = explain(net, image, CamMethod::GradCam, 0);
  const std::int64_t C = h.feature_map.size(0), hw = h.feature_map.size(1) * h.feature_map.size(2);
  const std::vector<double> A = h.feature_map.to_vector();
  std::vector<double> X(hw * C);
  for (std::int64_t k = 0; k < C; ++k)
    for (std::int64_t j = 0; j < hw; ++j) X[j * C + k] = A[k * hw + j];
  const std::vector<double> pc = first_principal_component(X, hw, C);
  std::vector<double> cam(hw, 0.0);
  for (std::int64_t j = 0; j < hw; ++j)
    for (std::int64_t k = 0; k < C; ++k) cam[j] += X[j * C + k] * pc[k];
  const Explanation e0 = explain_with(net, image, "eigencam", 0), e2 = explain_with(net, image, "eigencam", 2);
  expect_maps_near(e0.grid, normalised(cam));
  expect_maps_near(e2.map, e0.map.to_vector(), 0);
}

TEST(Occlusion, OffsetsCoverTheWholeSide) {
  EXPECT_EQ(occlusion_offsets(33, 11, 11), (std::vector<std::int64_t>{0, 11, 22}));
  EXPECT_EQ(occlusion_offsets(33, 16, 8), (std::vector<std::int64_t>{0, 8, 16, 17}));
  EXPECT_EQ(occlusion_offsets(10, 16, 8), (std::vector<std::int64_t>{0}));
  EXPECT_THROW(occlusion_offsets(10, 0, 1), Error);
}

TEST_F(TinyNet, OcclusionIsTheScoreDropOfEachPatchAveragedOverCoveringPatches) {
  const int target = 2;
  ExplainSettings s;
  s.occlusion_patch = 16;
  s.occlusion_stride = 8;  // overlapping patches, and a last one moved to the edge
  s.batch = 5;
  const std::vector<std::int64_t> offsets{0, 8, 16, 17};
  const double full = score(image, target);
  std::vector<double> sum(33 * 33, 0.0), count(33 * 33, 0.0);
  for (std::int64_t y0 : offsets)
    for (std::int64_t x0 : offsets) {
      std::vector<double> x = image.to_vector();
      for (std::int64_t y = y0; y < y0 + 16; ++y)
        for (std::int64_t xx = x0; xx < x0 + 16; ++xx) x[y * 33 + xx] = 0;
      const double drop = full - score(Tensor::from_vector(x, image.shape(), DType::F64), target);
      for (std::int64_t y = y0; y < y0 + 16; ++y)
        for (std::int64_t xx = x0; xx < x0 + 16; ++xx) {
          sum[y * 33 + xx] += drop;
          count[y * 33 + xx] += 1;
        }
    }
  for (std::size_t j = 0; j < sum.size(); ++j) sum[j] /= count[j];
  expect_maps_near(explain_with(net, image, "occlusion", target, s).map, normalised(sum));
}

TEST_F(TinyNet, GradCamThroughTheRegistryIsTheExistingGradCam) {
  for (const auto& [name, method] :
       {std::pair{"gradcam", CamMethod::GradCam}, std::pair{"gradcam++", CamMethod::GradCamPlusPlus}}) {
    const Heatmap h = explain(net, image, method, 1);
    expect_maps_near(explain_with(net, image, name, 1).map, h.map.to_vector(), 1e-12);
  }
}

TEST_F(TinyNet, EveryMethodGivesANormalisedMapOfTheInputSize) {
  const Tensor odd = random_tensor({1, 1, 40, 37}, gen);
  for (const ExplanationMethod& m : explanation_methods()) {
    SCOPED_TRACE(m.name);
    EXPECT_FALSE(m.description.empty());
    const Explanation e = explain_with(net, odd, m.name);
    ASSERT_EQ(e.map.shape(), (Shape{40, 37}));
    double lo = 1, hi = 0;
    for (double v : e.map.to_vector()) lo = std::min(lo, v), hi = std::max(hi, v);
    EXPECT_GE(lo, 0.0);
    EXPECT_TRUE(hi == 1.0 || hi == 0.0);
    EXPECT_EQ(e.probabilities.size(), static_cast<std::size_t>(net.config().num_classes));
  }
}

TEST_F(TinyNet, BadRequestsAreClearErrors) {
  EXPECT_THROW(explain_with(net, image, "lime"), Error);
  EXPECT_THROW(explain_with(net, image, "saliency", 7), Error);
  ExplainSettings s;
  s.smoothgrad_samples = 4;
  EXPECT_THROW(explain_with(net, image, "gradcam", -1, s), Error);
  s = {};
  s.ig_steps = 0;
  EXPECT_THROW(explain_with(net, image, "integrated-gradients", -1, s), Error);
  EXPECT_THROW(explain_with(net, Tensor::zeros({2, 1, 33, 33}, DType::F64), "occlusion"), Error);
}

}  // namespace
