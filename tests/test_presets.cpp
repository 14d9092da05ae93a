// The network family and its presets: structure (parameter names, shapes and
// counts worked out by hand), the layer API Grad-CAM uses, gradients through every
// block kind, and the JSON form of a NetConfig that model files store.
#include "expect_error.h"
#include "gradcheck.h"

#include "models/depthwise_net.h"
#include "models/presets.h"

#include <boost/json.hpp>

#include <map>

using namespace cxr;
using cxr::testing::expect_error_mentioning;
using cxr::testing::random_tensor;

namespace {

std::map<std::string, Shape> parameter_shapes(Module& m) {
  std::map<std::string, Shape> out;
  for (const auto& d : m.parameters()) out[d.name] = d.shape;
  return out;
}

std::int64_t parameter_count(Module& m) {
  std::int64_t n = 0;
  for (const auto& d : m.parameters()) n += shape_numel(d.shape);
  return n;
}

TEST(Presets, CxrSmallKeepsTheReferenceNetNamesAndShapes) {
  auto net = make_net(preset_config("cxr-small"));
  const auto shapes = parameter_shapes(*net);
  EXPECT_EQ(shapes.at("stem_conv.weight"), (Shape{32, 1, 3, 3}));
  EXPECT_EQ(shapes.at("blocks.0.depthwise.weight"), (Shape{32, 1, 3, 3}));
  EXPECT_EQ(shapes.at("blocks.1.pointwise.weight"), (Shape{128, 64, 1, 1}));
  EXPECT_EQ(shapes.at("blocks.7.bn2.weight"), (Shape{512}));
  EXPECT_EQ(shapes.at("classifier.weight"), (Shape{4, 512}));
  EXPECT_FALSE(shapes.count("stem_conv.bias"));  // batch norm supplies the shift
  EXPECT_FALSE(shapes.count("hidden.weight"));
  // stem 288 + 64 BN; blocks: depthwise 9 c_in + BN 2 c_in, pointwise c_in c_out + BN 2 c_out; classifier 512*4+4.
  std::int64_t expected = 32 * 9 + 64;
  int c_in = 32;
  for (int c_out : {64, 128, 128, 256, 256, 512, 512, 512}) {
    expected += 9 * c_in + 2 * c_in + c_in * c_out + 2 * c_out;
    c_in = c_out;
  }
  expected += 512 * 4 + 4;
  EXPECT_EQ(parameter_count(*net), expected);
  EXPECT_EQ(net->layer_names().size(), 9u);
  EXPECT_EQ(net->layer_names().front(), "stem");
  EXPECT_EQ(net->layer_names().back(), "blocks.7");
}

TEST(Presets, KaggleSepHasTheNotebookBackboneWithAPooledHead) {
  auto net = make_net(preset_config("kaggle-sep", 4));
  const auto shapes = parameter_shapes(*net);
  // Without batch norm, convolutions carry a bias; the separable conv is depthwise + pointwise.
  EXPECT_EQ(shapes.at("stem_conv.bias"), (Shape{64}));
  EXPECT_EQ(shapes.at("blocks.0.conv.weight"), (Shape{64, 64, 3, 3}));
  EXPECT_EQ(shapes.at("blocks.2.depthwise.weight"), (Shape{64, 1, 3, 3}));
  EXPECT_EQ(shapes.at("blocks.2.pointwise.bias"), (Shape{128}));
  EXPECT_FALSE(shapes.count("blocks.2.depthwise.bias"));
  EXPECT_EQ(shapes.at("blocks.5.bn1.weight"), (Shape{128}));
  EXPECT_EQ(shapes.at("blocks.11.pointwise.weight"), (Shape{512, 512, 1, 1}));
  EXPECT_FALSE(shapes.count("blocks.11.pointwise.bias"));
  EXPECT_EQ(shapes.at("hidden.weight"), (Shape{512, 512}));
  EXPECT_EQ(shapes.at("classifier.weight"), (Shape{4, 512}));

  const std::int64_t stem = 64 * 9 + 64, conv = 64 * 64 * 9 + 64;
  auto plain_sep = [](int i, int o) {
    return 9 * i + i * o + o;
  };
  auto bn_sep = [](int i, int o) {
    return 9 * i + 2 * i + i * o + 2 * o;
  };
  const std::int64_t expected = stem + conv + plain_sep(64, 128) + plain_sep(128, 128) + bn_sep(128, 256) +
                                2 * bn_sep(256, 256) + bn_sep(256, 512) + 2 * bn_sep(512, 512) + 512 * 512 + 512 +
                                512 * 4 + 4;
  EXPECT_EQ(parameter_count(*net), expected);

  // Four 2x2 pools: 64 -> 4.
  auto small = make_net(preset_config("kaggle-sep", 3, 64).narrowed(1.0 / 16));
  ParameterSet params(*small, 1);
  small->eval();
  NoGradGuard no_grad;
  Generator gen(2);
  const Tensor x = random_tensor({2, 1, 64, 64}, gen, DType::F32);
  EXPECT_EQ(small->features(x).shape(), (Shape{2, 32, 4, 4}));
  EXPECT_EQ(small->forward(x).shape(), (Shape{2, 3}));
}

TEST(Presets, UnknownPresetListsTheKnownOnes) {
  expect_error_mentioning([] { preset_config("resnet-50"); }, {"resnet-50", "cxr-small", "kaggle-sep"});
}

TEST(Presets, ForwardAfterForwardUntilIsForwardAtEveryLayer) {
  for (const char* preset : {"cxr-small", "kaggle-sep"}) {
    auto net = make_net(preset_config(preset, 4, 32).narrowed(0.125), 3);
    ParameterSet params(*net, 4);
    net->eval();
    NoGradGuard no_grad;
    Generator gen(5);
    const Tensor x = random_tensor({2, 1, 32, 32}, gen, DType::F32);
    const Tensor logits = net->forward(x);
    for (const auto& layer : net->layer_names()) {
      const Tensor y = net->forward_after(net->forward_until(x, layer), layer);
      for (std::int64_t i = 0; i < logits.numel(); ++i)
        ASSERT_EQ(y.at(i), logits.at(i)) << preset << " " << layer;  // the same ops in the same order: exact
    }
    EXPECT_EQ(net->forward_until(x, net->layer_names().back()).shape(), net->features(x).shape());
    expect_error_mentioning([&] { net->forward_until(x, "blocks.99"); }, {"blocks.99", "stem"});
  }
}

TEST(Presets, InputGradientsThroughEveryBlockKindMatchFiniteDifferences) {
  // kaggle-sep has biased convs, separable blocks with and without batch norm, max
  // pools and a hidden layer; cxr-small the MobileNet blocks. Evaluation mode with
  // grad on: the unfolded path, batch norm an affine map, no dropout.
  for (const char* preset : {"kaggle-sep", "cxr-small"}) {
    NetConfig c = preset_config(preset, 3, 16).narrowed(1.0 / 32);
    auto net = make_net(c, 6);
    ParameterSet params(*net, 7, DType::F64);
    net->eval();
    Generator gen(8);
    Tensor x = random_tensor({2, 1, 16, 16}, gen);
    x.set_requires_grad(true);
    SCOPED_TRACE(preset);
    cxr::testing::expect_gradients_match([&](const std::vector<Tensor>& in) { return net->forward(in[0]); }, {x});
  }
}

TEST(NetConfigJson, RoundTripsBothPresets) {
  for (const auto& name : preset_names()) {
    const NetConfig c = preset_config(name, 3, 96).narrowed(0.5);
    const std::string text = boost::json::serialize(to_json(c));
    EXPECT_EQ(net_config_from_json(boost::json::parse(text)), c) << text;
  }
}

TEST(NetConfigJson, MalformedConfigsNameTheField) {
  auto with = [](const std::function<void(boost::json::object&)>& edit) {
    boost::json::object o = to_json(NetConfig::cxr_small());
    edit(o);
    return boost::json::value(o);
  };
  expect_error_mentioning([&] { net_config_from_json(with([](auto& o) { o.erase("stem_channels"); })); },
                          {"stem_channels"});
  expect_error_mentioning([&] { net_config_from_json(with([](auto& o) { o["dropout"] = "high"; })); }, {"dropout"});
  expect_error_mentioning(
      [&] { net_config_from_json(with([](auto& o) { o["blocks"].as_array()[2].as_object()["kind"] = "dense"; })); },
      {"block 2", "dense"});
  expect_error_mentioning(
      [&] { net_config_from_json(with([](auto& o) { o["blocks"].as_array()[1].as_object()["stride"] = 3; })); },
      {"block 1", "stride 3"});
  expect_error_mentioning([&] { net_config_from_json(with([](auto& o) { o["num_classes"] = 1; })); }, {"2 classes"});
  expect_error_mentioning([&] { net_config_from_json(boost::json::value(42)); }, {"object"});
}

}  // namespace
