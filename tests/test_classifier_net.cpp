// The model interface by its roles (models/classifier_net.h): a second, test-only
// architecture whose parameter names look nothing like DepthwiseSeparableNet's
// (no stem_*, no blocks.<i>) is unfrozen and explained through the interface alone.
#include "expect_error.h"
#include "gradcheck.h"

#include "engine/autograd.h"
#include "engine/nn/layers.h"
#include "engine/ops.h"
#include "engine/optim/adamw.h"
#include "models/gradcam.h"

using namespace cxr;
using cxr::testing::expect_error_mentioning;
using cxr::testing::random_tensor;

namespace {

// conv "low" (stride 1) -> conv "high" (stride 2) -> average pool -> linear "readout".
// Grad-CAM explains "low" (not the last layer: the default comes from the net);
// `--unfreeze last_block` trains "high" and the head, `head` only the head.
class TwoConvNet : public ClassifierNet {
 public:
  explicit TwoConvNet(const NetConfig& config)
      : ClassifierNet(config, 0),
        alpha_(add_module("alpha", std::make_unique<Conv2d>(1, 4, 3, 1, 1, 1, true))),
        omega_(add_module("omega", std::make_unique<Conv2d>(4, 6, 3, 2, 1, 1, true))),
        readout_(add_module("readout", std::make_unique<Linear>(6, config.num_classes))) {}

  Tensor features(const Tensor& x) override { return forward_until(x, "high"); }
  Tensor head(const Tensor& f) override { return readout_.forward(global_avg_pool2d(f)); }
  std::vector<std::string> layer_names() const override { return {"low", "high"}; }
  Tensor forward_until(const Tensor& x, const std::string& layer) override {
    const Tensor low = relu(alpha_.forward(x));
    return layer == "low" ? low : relu(omega_.forward(low));
  }
  Tensor forward_after(const Tensor& h, const std::string& layer) override {
    return head(layer == "low" ? relu(omega_.forward(h)) : h);
  }
  std::string cam_layer() const override { return "low"; }
  std::string last_frozen_layer(Unfreeze unfreeze) const override {
    switch (unfreeze) {
      case Unfreeze::head: return "high";
      case Unfreeze::last_block: return "low";
      default: return "";
    }
  }
  std::vector<Module*> layer_modules(const std::string& layer) override { return {layer == "low" ? &alpha_ : &omega_}; }

  Conv2d& alpha_;
  Conv2d& omega_;
  Linear& readout_;
};

NetConfig two_class_config() {
  NetConfig c;
  c.num_classes = 2;
  c.input_size = 12;
  return c;
}

TEST(ClassifierNetInterface, UnfreezingFindsTheTrainableTailWithoutNames) {
  TwoConvNet net(two_class_config());
  ParameterSet params(net, 1);
  EXPECT_EQ(net.first_trainable_offset(params, Unfreeze::all), 0);
  // The test looks the offsets up by name; the interface never does.
  const auto offset_of = [&](const std::string& name) {
    for (const auto& p : params.parameters())
      if (p.name == name) return p.offset;
    return std::int64_t{-1};
  };
  EXPECT_EQ(net.first_trainable_offset(params, Unfreeze::last_block), offset_of("omega.weight"));
  EXPECT_EQ(net.first_trainable_offset(params, Unfreeze::head), offset_of("readout.weight"));

  // One fine-tuning step as the trainer takes it: the frozen layers run without a
  // graph, the optimizer starts at the first trainable offset.
  const std::int64_t first = net.first_trainable_offset(params, Unfreeze::last_block);
  const Tensor before = params.values().clone();
  AdamW opt(params, AdamWOptions{0.01, 0.9, 0.999, 1e-8, 0.0}, first);
  Generator gen(2);
  const Tensor x = random_tensor({3, 1, 12, 12}, gen, DType::F32);
  Tensor h;
  {
    NoGradGuard no_grad;
    h = net.forward_until(x, net.last_frozen_layer(Unfreeze::last_block));
  }
  params.zero_grad();
  cross_entropy(net.forward_after(h, net.last_frozen_layer(Unfreeze::last_block)), {0, 1, 1}).backward();
  opt.step();
  bool trained = false;
  for (std::int64_t i = 0; i < params.count(); ++i) {
    if (i < first)
      EXPECT_EQ(params.values().at(i), before.at(i)) << "frozen parameter " << i;
    else
      trained = trained || params.values().at(i) != before.at(i);
  }
  EXPECT_TRUE(trained);
}

// The frozen layers' parameters must lead the flat buffer: a net whose frozen
// layers are not declared first (here "low" claims the readout) cannot freeze them
// by one offset, and says so.
class ShuffledLayersNet : public TwoConvNet {
 public:
  using TwoConvNet::TwoConvNet;
  std::vector<Module*> layer_modules(const std::string& layer) override {
    return {layer == "low" ? static_cast<Module*>(&readout_) : &omega_};
  }
};

TEST(ClassifierNetInterface, FrozenParametersAfterTrainableOnesAreRefused) {
  ShuffledLayersNet net(two_class_config());
  ParameterSet params(net, 1);
  expect_error_mentioning([&] { net.first_trainable_offset(params, Unfreeze::head); },
                          {"frozen parameter", "omega.weight", "after trainable ones"});
}

TEST(ClassifierNetInterface, GradCamExplainsTheNetsOwnLayer) {
  TwoConvNet net(two_class_config());
  ParameterSet params(net, 3);
  Generator gen(4);
  const Tensor image = random_tensor({1, 1, 12, 12}, gen, DType::F32);
  for (CamMethod method : {CamMethod::GradCam, CamMethod::GradCamPlusPlus}) {
    const Heatmap h = explain(net, image, method);
    EXPECT_EQ(h.layer, "low");
    EXPECT_EQ(h.feature_map.shape(), (Shape{4, 12, 12}));
    EXPECT_EQ(h.map.shape(), (Shape{12, 12}));
    const Heatmap high = explain(net, image, method, h.target_class, "high");
    EXPECT_EQ(high.feature_map.shape(), (Shape{6, 6, 6}));
    for (std::size_t c = 0; c < h.probabilities.size(); ++c)
      EXPECT_NEAR(h.probabilities[c], high.probabilities[c], 1e-6);
  }
}

}  // namespace
