// Grad-CAM and Grad-CAM++: the gradients they use are exact, and the maps follow
// the published formulas.
#include "gradcheck.h"

#include "models/depthwise_net.h"
#include "models/gradcam.h"
#include "models/presets.h"

#include <cmath>

using namespace cxr;
using cxr::testing::random_tensor;

namespace {

NetConfig tiny_config() {
  NetConfig c = NetConfig::cxr_small().narrowed(0.125);
  c.blocks.resize(4);
  c.dropout = 0.3;
  return c;
}

TEST(GradCam, FeatureGradientEqualsCentralDifferencesInFloat64) {
  DepthwiseSeparableNet net(tiny_config(), 3);
  ParameterSet params(net, 4, DType::F64);
  Generator gen(5);
  const Tensor image = random_tensor({1, 1, 33, 33}, gen);
  const int target = 2;
  const Heatmap h = explain(net, image, CamMethod::GradCam, target);

  // score_c as a function of the feature map A, evaluated directly.
  Tensor A = h.feature_map.clone();
  const Shape batch_shape{1, A.size(0), A.size(1), A.size(2)};
  auto score = [&](const Tensor& a) {
    NoGradGuard no_grad;
    return net.head(a.view(batch_shape)).at(target);
  };
  // h = 1e-6 in float64: see tests/gradcheck.h for why atol 1e-6 + rtol 1e-5 is tight but safe.
  const double step = 1e-6;
  double* a = A.data<double>();
  for (std::int64_t i = 0; i < A.numel(); ++i) {
    const double saved = a[i];
    a[i] = saved + step;
    const double plus = score(A);
    a[i] = saved - step;
    const double minus = score(A);
    a[i] = saved;
    const double numeric = (plus - minus) / (2 * step);
    ASSERT_NEAR(h.feature_grad.at(i), numeric, 1e-6 + 1e-5 * std::abs(numeric)) << "element " << i;
  }
}

TEST(GradCam, ChannelWeightsFollowThePublishedFormulas) {
  // Two channels of 2x2: hand-computed weights.
  const Tensor A = Tensor::from_vector(std::vector<double>{1, 2, 0, 1, /**/ 0, 0, 3, 1}, {2, 2, 2}, DType::F64);
  const Tensor g = Tensor::from_vector(std::vector<double>{0.5, -1, 0, 2, /**/ 0, 0, 0, 0}, {2, 2, 2}, DType::F64);
  const auto w = cam_channel_weights(A, g, CamMethod::GradCam);
  EXPECT_DOUBLE_EQ(w[0], (0.5 - 1 + 0 + 2) / 4);
  EXPECT_DOUBLE_EQ(w[1], 0.0);

  const auto wpp = cam_channel_weights(A, g, CamMethod::GradCamPlusPlus);
  // Channel 0: sum A = 4; alpha = g^2 / (2 g^2 + 4 g^3), weight = sum alpha * relu(g).
  auto alpha = [](double gi) {
    return gi * gi / (2 * gi * gi + 4 * gi * gi * gi);
  };
  const double expected0 = alpha(0.5) * 0.5 + alpha(-1.0) * 0.0 + 0.0 + alpha(2.0) * 2.0;
  EXPECT_DOUBLE_EQ(wpp[0], expected0);
  EXPECT_DOUBLE_EQ(wpp[1], 0.0);  // zero denominators give alpha 0, not NaN
}

TEST(GradCam, MapIsNormalisedAtInputSizeAndLeavesParameterGradsAlone) {
  DepthwiseSeparableNet net(tiny_config(), 3);
  ParameterSet params(net, 4);
  Generator gen(6);
  const Tensor image = random_tensor({1, 1, 40, 37}, gen, DType::F32);
  for (CamMethod m : {CamMethod::GradCam, CamMethod::GradCamPlusPlus}) {
    const Heatmap h = explain(net, image, m);
    EXPECT_EQ(h.map.shape(), (Shape{40, 37}));
    double lo = 1e9, hi = -1e9;
    for (std::int64_t i = 0; i < h.map.numel(); ++i) {
      lo = std::min(lo, h.map.at(i));
      hi = std::max(hi, h.map.at(i));
    }
    EXPECT_GE(lo, 0.0);
    EXPECT_TRUE(hi == 1.0 || hi == 0.0) << "max " << hi;
    double psum = 0;
    for (double p : h.probabilities) psum += p;
    EXPECT_NEAR(psum, 1.0, 1e-6);  // softmax in float32: sums to 1 within a few ulps
  }
  double grad_norm = 0;
  for (std::int64_t i = 0; i < params.grads().numel(); ++i) grad_norm += std::abs(params.grads().at(i));
  EXPECT_EQ(grad_norm, 0.0);
}

TEST(GradCam, ExplainsTheChosenLayer) {
  DepthwiseSeparableNet net(tiny_config(), 3);
  ParameterSet params(net, 4);
  Generator gen(7);
  const Tensor image = random_tensor({1, 1, 32, 32}, gen, DType::F32);
  const Heatmap last = explain(net, image, CamMethod::GradCam);
  const Heatmap named_last = explain(net, image, CamMethod::GradCam, -1, net.layer_names().back());
  for (std::int64_t i = 0; i < last.coarse.numel(); ++i) EXPECT_EQ(named_last.coarse.at(i), last.coarse.at(i));

  const Heatmap early = explain(net, image, CamMethod::GradCam, -1, "blocks.0");
  Shape early_shape;
  {
    NoGradGuard no_grad;
    early_shape = net.forward_until(image, "blocks.0").shape();
  }
  EXPECT_EQ(early.feature_map.shape(), (Shape{early_shape[1], early_shape[2], early_shape[3]}));
  EXPECT_NE(early.coarse.shape(), last.coarse.shape());  // 16x16 against 4x4
  EXPECT_EQ(early.map.shape(), (Shape{32, 32}));
  // The same logits, split at another layer: folded and unfolded batch norm differ
  // by float32 rounding only (~1e-7 relative), far inside 1e-5.
  for (std::size_t c = 0; c < last.probabilities.size(); ++c)
    EXPECT_NEAR(early.probabilities[c], last.probabilities[c], 1e-5);
  EXPECT_THROW(explain(net, image, CamMethod::GradCam, -1, "blocks.9"), Error);
}

TEST(GradCam, DefaultLayerIsTheLastConvolutionalBlock) {
  DepthwiseSeparableNet small(tiny_config(), 3);
  EXPECT_EQ(small.cam_layer(), "blocks.3");
  // kaggle-sep ends in a max pool (blocks.12); its last convolutional block is blocks.11.
  DepthwiseSeparableNet kaggle(preset_config("kaggle-sep", 4, 32).narrowed(0.125), 3);
  ParameterSet params(kaggle, 4);
  EXPECT_EQ(kaggle.layer_names().back(), "blocks.12");
  EXPECT_EQ(kaggle.cam_layer(), "blocks.11");
  Generator gen(8);
  const Heatmap h = explain(kaggle, random_tensor({1, 1, 32, 32}, gen, DType::F32), CamMethod::GradCam);
  EXPECT_EQ(h.layer, "blocks.11");
  EXPECT_EQ(h.coarse.shape(), (Shape{4, 4}));  // three pools before it: 32 / 8
}

// A batch is explained as its images one by one: in evaluation mode they do not
// interact, and each keeps its own method and class.
TEST(GradCam, BatchEqualsEachImageExplainedAlone) {
  DepthwiseSeparableNet net(tiny_config(), 3);
  ParameterSet params(net, 4, DType::F64);
  Generator gen(8);
  const Tensor images = random_tensor({4, 1, 33, 31}, gen);
  const std::vector<CamMethod> methods{CamMethod::GradCam, CamMethod::GradCamPlusPlus, CamMethod::GradCam,
                                       CamMethod::GradCamPlusPlus};
  const std::vector<int> targets{-1, 1, 3, -1};
  const std::vector<Heatmap> batch = explain_batch(net, images, methods, targets);
  ASSERT_EQ(batch.size(), 4u);
  for (std::int64_t i = 0; i < 4; ++i) {
    const Heatmap alone = explain(net, images.slice_rows(i, i + 1).contiguous(), methods[i], targets[i]);
    const Heatmap& h = batch[i];
    EXPECT_EQ(h.target_class, alone.target_class) << i;
    // float64 throughout; a batch only changes the blocking of the kernels' sums.
    const double tol = 1e-12;
    for (std::size_t c = 0; c < alone.probabilities.size(); ++c)
      EXPECT_NEAR(h.probabilities[c], alone.probabilities[c], tol) << i;
    ASSERT_EQ(h.feature_grad.shape(), alone.feature_grad.shape());
    for (std::int64_t j = 0; j < alone.feature_grad.numel(); ++j)
      ASSERT_NEAR(h.feature_grad.at(j), alone.feature_grad.at(j), tol + tol * std::abs(alone.feature_grad.at(j)))
          << i << " " << j;
    ASSERT_EQ(h.map.shape(), alone.map.shape());
    for (std::int64_t j = 0; j < alone.map.numel(); ++j) ASSERT_NEAR(h.map.at(j), alone.map.at(j), 1e-9) << i;
  }
  EXPECT_EQ(batch[2].target_class, 3);
  EXPECT_THROW(explain_batch(net, images, methods, {-1, -1}), Error);
}

TEST(GradCam, RejectsBadRequests) {
  DepthwiseSeparableNet net(tiny_config(), 3);
  ParameterSet params(net, 4);
  EXPECT_THROW(explain(net, Tensor::zeros({2, 1, 32, 32}), CamMethod::GradCam), Error);
  EXPECT_THROW(explain(net, Tensor::zeros({1, 1, 32, 32}), CamMethod::GradCam, 9), Error);
  EXPECT_THROW(parse_cam_method("lime"), Error);
}

}  // namespace
