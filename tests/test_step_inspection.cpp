// `cxr inspect --step` (models/step_inspection.h, engine/graph_trace.h): the traced
// graph is the network's, its costs add up to the network's FLOPs counted from the
// modules, the AdamW updates equal the first-step formula recomputed in float64, the
// DOT output parses, and tracing is off unless a scope is alive.
#include "data_fixtures.h"
#include "finetune_fixtures.h"
#include "random_tensors.h"

#include "engine/graph_trace.h"
#include "engine/ops.h"
#include "models/step_inspection.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

using namespace cxr;

namespace {

constexpr int kSize = 32, kBatch = 4;
constexpr double kLr = 1e-3, kWeightDecay = 1e-4;

struct Fixture {
  LoadedModel model = test::tiny_four_class_model(kSize, 7);
  Tensor images;
  std::vector<int> labels{0, 1, 2, 3};
  Tensor values_before;
  StepInspection step;

  Fixture() {
    Generator gen(9);
    images = cxr::testing::random_tensor({kBatch, 1, kSize, kSize}, gen, DType::F32);
    values_before = model.params->values().clone();
    step = inspect_training_step(*model.net, *model.params, images, labels, model.info.class_names, kLr, kWeightDecay);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

}  // namespace

TEST(StepInspection, TheTraceIsTheNetworksGraph) {
  const StepInspection& s = fixture().step;
  const auto& nodes = s.trace.nodes();
  ASSERT_FALSE(nodes.empty());
  std::set<std::string> parameter_leaves;
  int inputs = 0;
  for (const std::string& name : s.leaf_names) {
    if (name == "input")
      ++inputs;
    else
      EXPECT_TRUE(parameter_leaves.insert(name).second) << name << " appears twice";
  }
  EXPECT_EQ(inputs, 1);
  // Every parameter feeds the graph exactly once.
  std::set<std::string> all;
  for (const auto& p : fixture().model.params->parameters()) all.insert(p.name);
  EXPECT_EQ(parameter_leaves, all);
  for (const TracedNode& n : nodes) {
    EXPECT_TRUE(n.backward_ran) << n.op << " " << n.id;
    EXPECT_GE(n.forward_seconds, 0);
    for (const TracedInput& in : n.inputs) EXPECT_LT(in.node, n.id);  // inputs come first
  }
  EXPECT_EQ(nodes.back().op, "cross_entropy");
  EXPECT_EQ(nodes.back().output_shape, Shape{});
  EXPECT_EQ(nodes.back().inputs.at(0).shape, (Shape{kBatch, 4}));
  double backward = 0;
  for (const TracedNode& n : nodes) backward += n.backward_seconds;
  EXPECT_LE(backward, s.backward_seconds);
}

TEST(StepInspection, ConvolutionAndLinearFlopsAddUpToTheNetworksCount) {
  Fixture& f = fixture();
  // Counted from the modules: for each layer, its convolution weights and the
  // output size of the layer's convolutions (the depthwise one sets the stride).
  double expected = 0;
  ClassifierNet& net = *f.model.net;
  net.eval();
  NoGradGuard no_grad;
  for (const std::string& layer : net.layer_names()) {
    const Shape out = net.forward_until(f.images, layer).shape();
    for (Module* m : net.layer_modules(layer))
      for (const auto& p : m->parameters()) {
        if (p.shape.size() != 4) continue;  // a batch norm's
        expected += 2.0 * kBatch * static_cast<double>(p.shape[0] * out[2] * out[3]) *
                    static_cast<double>(p.shape[1] * p.shape[2] * p.shape[3]);
      }
  }
  for (const auto& p : net.parameters())
    if (p.name.ends_with("weight") && p.shape.size() == 2)
      expected += 2.0 * kBatch * static_cast<double>(p.shape[0] * p.shape[1]);
  double traced = 0;
  for (const TracedNode& n : f.step.trace.nodes())
    if (n.op.starts_with("conv2d") || n.op == "linear") traced += estimate_cost(n).flops_forward;
  EXPECT_EQ(traced, expected);
}

TEST(StepInspection, UpdatesAreTheFirstAdamWStepRecomputedInFloat64) {
  Fixture& f = fixture();
  const ParameterSet& params = *f.model.params;
  const std::vector<double> before = f.values_before.to_vector();
  const std::vector<double> grads = const_cast<ParameterSet&>(params).grads().to_vector();
  ASSERT_EQ(f.step.updates.size(), params.parameters().size());
  for (std::size_t k = 0; k < f.step.updates.size(); ++k) {
    const ParameterUpdate& u = f.step.updates[k];
    const auto& p = params.parameters()[k];
    SCOPED_TRACE(u.name);
    // Step 1 with bias correction: m_hat = g and v_hat = g^2, so
    // w' = w - lr wd w - lr g / (|g| + eps).
    double w2 = 0, g2 = 0, d2 = 0;
    for (std::int64_t i = p.offset; i < p.offset + p.tensor.numel(); ++i) {
      const double w = before[i], g = grads[i];
      const double delta = -kLr * kWeightDecay * w - kLr * g / (std::abs(g) + 1e-8);
      w2 += w * w;
      g2 += g * g;
      d2 += delta * delta;
    }
    // float32 parameters and optimizer arithmetic: the update norm to 1e-4 relative.
    EXPECT_NEAR(u.weight_norm, std::sqrt(w2), 1e-12 * std::sqrt(w2));
    EXPECT_NEAR(u.grad_norm, std::sqrt(g2), 1e-12 * std::sqrt(g2));
    EXPECT_NEAR(u.update_norm, std::sqrt(d2), 1e-4 * std::sqrt(d2));
    EXPECT_NEAR(u.update_ratio, std::sqrt(d2) / std::sqrt(w2), 1e-4 * std::sqrt(d2) / std::sqrt(w2));
  }
}

TEST(StepInspection, ShownValuesAreTheParametersBeforeAndAfterTheStep) {
  Fixture& f = fixture();
  ParameterSet& params = *f.model.params;
  const std::vector<double> before = f.values_before.to_vector();
  const std::vector<double> grads = params.grads().to_vector();
  const std::vector<double> after = params.values().to_vector();
  for (std::size_t k = 0; k < f.step.updates.size(); ++k) {
    const ParameterUpdate& u = f.step.updates[k];
    const auto& p = params.parameters()[k];
    SCOPED_TRACE(u.name);
    const std::int64_t n = p.tensor.numel();
    ASSERT_EQ(static_cast<std::int64_t>(u.shown_index.size()), std::min(kStepShownValues, n));
    ASSERT_EQ(u.shown_before.size(), u.shown_index.size());
    ASSERT_EQ(u.shown_gradient.size(), u.shown_index.size());
    ASSERT_EQ(u.shown_after.size(), u.shown_index.size());
    for (std::size_t j = 0; j < u.shown_index.size(); ++j) {
      const std::int64_t i = u.shown_index[j];
      ASSERT_TRUE(i >= 0 && i < n);
      if (j > 0) {
        EXPECT_GT(i, u.shown_index[j - 1]);
      }
      const auto flat = static_cast<std::size_t>(p.offset + i);
      // float32 values widened to double: equal exactly.
      EXPECT_EQ(u.shown_before[j], before[flat]);
      EXPECT_EQ(u.shown_gradient[j], grads[flat]);
      EXPECT_EQ(u.shown_after[j], after[flat]);
      // And the change is the first AdamW step (see above), to a few float32 ulps of w.
      const double w = before[flat], g = grads[flat];
      const double delta = -kLr * kWeightDecay * w - kLr * g / (std::abs(g) + 1e-8);
      EXPECT_NEAR(u.shown_after[j] - u.shown_before[j], delta, 3e-7 * std::abs(w) + 1e-9);
    }
  }
  const auto json = to_json(f.step);
  const auto& values = json.at("updates").as_array().at(0).at("values").as_object();
  EXPECT_EQ(values.at("after").as_array().size(), f.step.updates[0].shown_after.size());
  EXPECT_EQ(values.at("after").as_array()[0].as_double(), f.step.updates[0].shown_after[0]);
}

TEST(StepInspection, DotParsesAndMatchesTheJson) {
  const StepInspection& s = fixture().step;
  const std::string dot = to_dot(s);
  std::istringstream lines(dot);
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "digraph step {");
  const std::regex declaration(R"(  ([ln]\d+) \[shape=(box|ellipse), label="[^"]*"\];)");
  const std::regex edge(R"(  ([ln]\d+) -> (n\d+);)");
  std::set<std::string> declared;
  std::vector<std::pair<std::string, std::string>> edges;
  bool closed = false;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (line == "}") {
      closed = true;
    } else if (std::regex_match(line, m, declaration)) {
      EXPECT_TRUE(declared.insert(m[1]).second) << line;
    } else if (std::regex_match(line, m, edge)) {
      edges.emplace_back(m[1], m[2]);
    } else if (line != "  rankdir=TB;" && !line.starts_with("  node [")) {
      ADD_FAILURE() << "unexpected DOT line: " << line;
    }
  }
  EXPECT_TRUE(closed);
  const boost::json::object j = to_json(s);
  EXPECT_EQ(declared.size(), j.at("nodes").as_array().size() + j.at("leaves").as_array().size());
  std::size_t json_edges = 0;
  for (const auto& n : j.at("nodes").as_array())
    for (const auto& in : n.at("inputs").as_array()) json_edges += in.is_object();
  EXPECT_EQ(edges.size(), json_edges);
  for (const auto& [from, to] : edges) {
    EXPECT_TRUE(declared.count(from)) << from;
    EXPECT_TRUE(declared.count(to)) << to;
  }
}

TEST(GraphTrace, OffWithoutAScopeAndOneScopePerTrace) {
  EXPECT_EQ(active_graph_trace(), nullptr);
  GraphTrace trace;
  Generator gen(1);
  Tensor x = cxr::testing::random_tensor({3}, gen).set_requires_grad(true);
  (void)relu(x);
  EXPECT_TRUE(trace.nodes().empty());
  {
    GraphTraceScope scope(trace);
    EXPECT_EQ(active_graph_trace(), &trace);
    const Tensor y = sum(relu(x));
    GraphTrace other;
    EXPECT_THROW(GraphTraceScope nested(other), Error);
    y.backward();
  }
  EXPECT_EQ(active_graph_trace(), nullptr);
  ASSERT_EQ(trace.nodes().size(), 2u);
  EXPECT_EQ(trace.nodes()[0].op, "relu");
  EXPECT_EQ(trace.nodes()[1].inputs.at(0).node, 0);
  EXPECT_TRUE(trace.nodes()[0].backward_ran && trace.nodes()[1].backward_ran);
  EXPECT_THROW(GraphTraceScope again(trace), Error);
}

// The `cxr inspect` modes as a user runs them (skipped where the program is not built).
TEST(InspectCommand, WritesStepGraphsAndLayerMontages) {
  const char* binary = std::getenv("CXR_BINARY");
  if (binary == nullptr || !std::filesystem::exists(binary)) GTEST_SKIP() << "cxr is not built";
  test::TempDir dir;
  const auto d = dir.path();
  test::write_stripes_dataset(d / "data", kSize, {8, 4, 0}, 3);
  LoadedModel model = test::tiny_four_class_model(kSize, 5);
  save_model((d / "m.safetensors").string(), *model.net, model.info);
  test::write_png(d / "x.png", 40, 40, 1, test::pattern(40, 40, 1, 2));
  const auto run = [&](const std::string& args) {
    return std::system(fmt::format("\"{}\" inspect --model \"{}\" {} > \"{}\" 2>&1", binary,
                                   (d / "m.safetensors").string(), args, (d / "log.txt").string())
                           .c_str());
  };
  ASSERT_EQ(run(fmt::format("--batch-from \"{}\" --step --batch 4 --out \"{}\"", (d / "data").string(),
                            (d / "step").string())),
            0);
  std::ifstream json_file(d / "step" / "step.json");
  const boost::json::value step = boost::json::parse(std::string(std::istreambuf_iterator<char>(json_file), {}));
  EXPECT_EQ(step.at("labels").as_array().size(), 4u);
  EXPECT_GT(step.at("nodes").as_array().size(), 10u);
  EXPECT_TRUE(std::filesystem::exists(d / "step" / "step.dot"));

  ASSERT_EQ(run(fmt::format("--image \"{}\" --label normal --out \"{}\" --json", (d / "x.png").string(),
                            (d / "layers").string())),
            0);
  for (const std::string& layer : model.net->layer_names())
    for (const char* what : {"activation", "gradient"})
      EXPECT_TRUE(std::filesystem::exists(d / "layers" / fmt::format("{}.{}.png", layer, what))) << layer << what;
  std::ifstream inspection(d / "layers" / "inspection.json");
  EXPECT_EQ(boost::json::parse(std::string(std::istreambuf_iterator<char>(inspection), {})).at("objective"), "loss");

  EXPECT_NE(run("--batch-from nowhere"), 0);  // --step missing
  EXPECT_NE(run(fmt::format("--image \"{}\" --class nosuch", (d / "x.png").string())), 0);
}
