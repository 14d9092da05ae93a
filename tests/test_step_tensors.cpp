// Whole tensors of `cxr inspect --step` (engine/kept_tensor.h, models/step_inspection.h):
// every op's output and gradient and every leaf's value, gradient and updated value
// are the engine's tensors (the logits and their gradient recomputed here, the
// latter in float64 from the softmax), and the caps hold: a tensor over a cap is
// reported with its reason, never kept in part.
#include "finetune_fixtures.h"
#include "random_tensors.h"

#include "engine/ops.h"
#include "models/step_inspection.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cmath>

using namespace cxr;

namespace {

constexpr int kSize = 32, kBatch = 4;
constexpr double kLr = 1e-3, kWeightDecay = 1e-4;
const std::vector<int> kLabels{0, 1, 2, 3};

Tensor test_images() {
  Generator gen(9);
  return cxr::testing::random_tensor({kBatch, 1, kSize, kSize}, gen, DType::F32);
}

std::int64_t bytes_of(const Tensor& t) {
  return t.numel() * static_cast<std::int64_t>(dtype_size(t.dtype()));
}

void expect_same_values(const Tensor& kept, const Tensor& engine) {
  ASSERT_EQ(kept.shape(), engine.shape());
  const Tensor e = engine.to(Device::cpu());
  for (std::int64_t i = 0; i < e.numel(); ++i) ASSERT_EQ(kept.at(i), e.at(i)) << "at " << i;
}

}  // namespace

TEST(StepTensors, WholeTensorsAreTheEnginesTensors) {
  LoadedModel model = test::tiny_four_class_model(kSize, 7);
  const Tensor images = test_images();
  const Tensor before = model.params->values().clone();
  const StepInspection step = inspect_training_step(*model.net, *model.params, images, kLabels, model.info.class_names,
                                                    kLr, kWeightDecay, {1 << 24, 1 << 30});
  std::int64_t bytes = 0;
  for (const TracedNode& n : step.trace.nodes()) {
    SCOPED_TRACE(n.op + " " + std::to_string(n.id));
    ASSERT_TRUE(n.whole_output.kept()) << n.whole_output.reason;
    ASSERT_TRUE(n.whole_gradient.kept()) << n.whole_gradient.reason;
    EXPECT_EQ(n.whole_output.value.shape(), n.output_shape);
    EXPECT_EQ(n.whole_gradient.value.shape(), n.output_shape);
    for (std::size_t k = 0; k < n.sample_index.size(); ++k) {
      EXPECT_EQ(n.whole_output.value.at(n.sample_index[k]), n.sample_output[k]);
      EXPECT_EQ(n.whole_gradient.value.at(n.sample_index[k]), n.sample_gradient[k]);
    }
    bytes += bytes_of(n.whole_output.value) + bytes_of(n.whole_gradient.value);
  }

  // The logits (the loss's input) recomputed by a fresh copy of the model in training
  // mode: the same kernels on the same threads give the same bits (determinism rule).
  const TracedNode& loss = step.trace.nodes().back();
  ASSERT_EQ(loss.op, "cross_entropy");
  const TracedNode& logits = step.trace.nodes().at(static_cast<std::size_t>(loss.inputs.at(0).node));
  LoadedModel fresh = test::tiny_four_class_model(kSize, 7);
  fresh.net->train();
  Tensor expected_logits;
  {
    NoGradGuard no_graph;
    expected_logits = fresh.net->forward(images);
  }
  expect_same_values(logits.whole_output.value, expected_logits);
  // d mean cross-entropy / d logits = (softmax - one-hot) / N, in float64; float32
  // softmax and exp round at ~1e-7 relative: 1e-6 absolute on values below 1.
  const Tensor& g = logits.whole_gradient.value;
  for (std::int64_t row = 0; row < kBatch; ++row) {
    double peak = -1e300, sum = 0;
    for (std::int64_t c = 0; c < 4; ++c) peak = std::max(peak, expected_logits.at(row * 4 + c));
    for (std::int64_t c = 0; c < 4; ++c) sum += std::exp(expected_logits.at(row * 4 + c) - peak);
    for (std::int64_t c = 0; c < 4; ++c) {
      const double p = std::exp(expected_logits.at(row * 4 + c) - peak) / sum;
      const double want = (p - (c == kLabels[static_cast<std::size_t>(row)] ? 1.0 : 0.0)) / kBatch;
      EXPECT_NEAR(g.at(row * 4 + c), want, 1e-6) << row << ", " << c;
    }
  }

  // Leaves: the parameters before, their gradients and after, exactly; the input batch.
  ASSERT_EQ(step.leaf_tensors.size(), step.trace.leaves().size());
  for (std::size_t i = 0; i < step.leaf_tensors.size(); ++i) {
    SCOPED_TRACE(step.leaf_names[i]);
    const auto& kept = step.leaf_tensors[i];
    ASSERT_TRUE(kept.value.kept()) << kept.value.reason;
    if (step.leaf_names[i] == "input") {
      expect_same_values(kept.value.value, images);
      EXPECT_FALSE(kept.gradient.kept());
      EXPECT_FALSE(kept.after.kept());
      EXPECT_FALSE(kept.after.reason.empty());
      bytes += bytes_of(kept.value.value);
      continue;
    }
    const auto& entries = model.params->parameters();
    const auto p =
        std::find_if(entries.begin(), entries.end(), [&](const auto& e) { return e.name == step.leaf_names[i]; });
    ASSERT_NE(p, entries.end());
    expect_same_values(kept.value.value, before.view_of_storage(p->offset, p->tensor.shape()));
    expect_same_values(kept.gradient.value, model.params->grads().view_of_storage(p->offset, p->tensor.shape()));
    expect_same_values(kept.after.value, p->tensor);
    bytes += bytes_of(kept.value.value) + bytes_of(kept.gradient.value) + bytes_of(kept.after.value);
  }
  EXPECT_EQ(step.bytes_kept, bytes);
  const boost::json::object j = to_json(step);
  EXPECT_EQ(j.at("whole_tensors").at("bytes_kept").as_int64(), bytes);
  EXPECT_EQ(j.at("nodes").at(0).at("whole").at("output").at("kept"), true);
}

TEST(StepTensors, TheCapsHoldAndSayWhatTheyLeftOut) {
  LoadedModel model = test::tiny_four_class_model(kSize, 7);
  // Few elements a tensor and room for a few tensors: both caps come into play.
  const TensorCaps caps{2048, 64 * 1024};
  const StepInspection step = inspect_training_step(*model.net, *model.params, test_images(), kLabels,
                                                    model.info.class_names, kLr, kWeightDecay, caps);
  EXPECT_LE(step.bytes_kept, caps.max_total_bytes);
  int over_element_cap = 0, over_total_cap = 0, kept = 0;
  const auto check = [&](const KeptTensor& t, std::int64_t numel) {
    if (t.kept()) {
      ++kept;
      EXPECT_LE(t.value.numel(), caps.max_elements);
      EXPECT_EQ(t.value.numel(), numel);  // whole or not at all
    } else if (numel > caps.max_elements) {
      ++over_element_cap;
      EXPECT_NE(t.reason.find("per tensor"), std::string::npos) << t.reason;
    } else {
      ++over_total_cap;
      EXPECT_NE(t.reason.find("for all kept tensors"), std::string::npos) << t.reason;
    }
  };
  for (const TracedNode& n : step.trace.nodes()) {
    check(n.whole_output, shape_numel(n.output_shape));
    check(n.whole_gradient, shape_numel(n.output_shape));
  }
  for (std::size_t i = 0; i < step.leaf_tensors.size(); ++i)
    if (step.leaf_names[i] != "input") {
      const std::int64_t numel = shape_numel(step.trace.leaves()[i]->shape);
      check(step.leaf_tensors[i].value, numel);
      check(step.leaf_tensors[i].gradient, numel);
      check(step.leaf_tensors[i].after, numel);
    }
  EXPECT_GT(kept, 0);
  EXPECT_GT(over_element_cap, 0);
  EXPECT_GT(over_total_cap, 0);

  // The JSON says so per tensor; without caps it claims nothing.
  const boost::json::object j = to_json(step);
  bool reason_shown = false;
  for (const auto& n : j.at("nodes").as_array()) {
    const auto& out = n.at("whole").at("output").as_object();
    if (!out.at("kept").as_bool()) reason_shown = reason_shown || out.contains("reason");
  }
  EXPECT_TRUE(reason_shown);
  LoadedModel plain = test::tiny_four_class_model(kSize, 7);
  const boost::json::object k = to_json(inspect_training_step(*plain.net, *plain.params, test_images(), kLabels,
                                                              plain.info.class_names, kLr, kWeightDecay));
  EXPECT_FALSE(k.contains("whole_tensors"));
  EXPECT_FALSE(k.at("nodes").at(0).as_object().contains("whole"));
}
