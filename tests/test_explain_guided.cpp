// Guided backprop and Guided Grad-CAM (models/explain/guided.h) on a tiny float64
// net: the maps are their definitions' compositions of the guided input gradient
// and Grad-CAM, and the guided gradient is not the exact one. The guided rule itself
// is tested op by op in test_guided_relu.cpp, and the methods against PyTorch in
// test_explain_guided_torch.cpp.
#include "random_tensors.h"

#include "engine/autograd.h"
#include "models/depthwise_net.h"
#include "models/explain/cam_family.h"
#include "models/explain/guided.h"
#include "models/explain/registry.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace cxr;
using cxr::testing::random_tensor;

namespace {

NetConfig tiny_config() {
  NetConfig c = NetConfig::cxr_small().narrowed(0.125);
  c.blocks.resize(4);
  return c;
}

struct TinyNet : ::testing::Test {
  DepthwiseSeparableNet net{tiny_config(), 3};
  ParameterSet params{net, 4, DType::F64};
  Generator gen{5};
  Tensor image = random_tensor({1, 1, 33, 33}, gen);

  TinyNet() {  // biases away from 0, so that ReLUs close and gradients change sign
    double* v = params.values().data<double>();
    for (std::int64_t i = 0; i < params.values().numel(); ++i) v[i] += 0.2 * gen.normal();
  }
};

std::vector<double> normalised(std::vector<double> v) {
  double peak = 0;
  for (double& x : v) peak = std::max(peak, x = std::max(x, 0.0));
  if (peak > 0)
    for (double& x : v) x /= peak;
  return v;
}

// Both sides do the same float64 operations in the same order: equal to rounding.
void expect_maps_near(const Tensor& got, const std::vector<double>& want) {
  ASSERT_EQ(got.numel(), static_cast<std::int64_t>(want.size()));
  for (std::size_t j = 0; j < want.size(); ++j) ASSERT_NEAR(got.at(j), want[j], 1e-12) << "pixel " << j;
}

TEST_F(TinyNet, GuidedBackpropIsTheRectifiedGuidedGradient) {
  for (int cls : {0, 2}) {
    const std::vector<double> g = guided_input_gradients(net, image, {cls}).to_vector();
    const Explanation e = explain_with(net, image, "guided-backprop", cls);
    EXPECT_EQ(e.method, "guided-backprop");
    EXPECT_EQ(e.target_class, cls);
    expect_maps_near(e.map, normalised(g));
  }
}

TEST_F(TinyNet, GuidedGradCamIsGuidedBackpropTimesGradCam) {
  for (int cls : {1, 3}) {
    std::vector<double> g = guided_input_gradients(net, image, {cls}).to_vector();
    const std::vector<double> cam = explain_with(net, image, "gradcam", cls).map.to_vector();
    for (std::size_t j = 0; j < g.size(); ++j) g[j] *= cam[j];
    const Explanation e = explain_with(net, image, "guided-gradcam", cls);
    EXPECT_EQ(e.layer, net.cam_layer());
    expect_maps_near(e.map, normalised(g));
  }
}

TEST_F(TinyNet, TheGuidedGradientIsNotTheExactOneAndLeavesTheRuleExact) {
  const std::vector<double> guided = guided_input_gradients(net, image, {0}).to_vector();
  const std::vector<double> exact = input_gradients(net, image, {0}).to_vector();
  double differ = 0;
  for (std::size_t j = 0; j < exact.size(); ++j) differ = std::max(differ, std::abs(guided[j] - exact[j]));
  EXPECT_GT(differ, 1e-3) << "the net must have ReLUs where a negative gradient arrives";
  EXPECT_EQ(input_gradients(net, image, {0}).to_vector(), exact) << "the scope ended with the call";
}

TEST_F(TinyNet, BatchedGuidedGradientsEqualOneImageAtATime) {
  const Tensor batch = random_tensor({3, 1, 33, 33}, gen);
  const std::vector<double> all = guided_input_gradients(net, batch, {0, 1, 3}).to_vector(), pixels = batch.to_vector();
  const std::int64_t per = 33 * 33;
  const int targets[] = {0, 1, 3};
  for (std::int64_t i = 0; i < 3; ++i) {
    const Tensor one = Tensor::from_vector(
        std::vector<double>(pixels.begin() + i * per, pixels.begin() + (i + 1) * per), {1, 1, 33, 33}, DType::F64);
    const std::vector<double> single = guided_input_gradients(net, one, {targets[i]}).to_vector();
    for (std::int64_t j = 0; j < per; ++j) ASSERT_NEAR(all[i * per + j], single[j], 1e-12) << i << " " << j;
  }
}

}  // namespace
