// Training telemetry (models/train_telemetry.h, telemetry_summary.h): every number
// recorded equals a float64 recomputation from the engine's tensors, recording
// does not change training by one bit, the file reads back, and each pathology
// the summary warns about is provoked by a small synthetic run that has it.
#include "data_fixtures.h"
#include "finetune_fixtures.h"

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/optim/adamw.h"
#include "engine/optim/sgd.h"
#include "models/depthwise_net.h"
#include "models/synthetic.h"
#include "models/telemetry_summary.h"
#include "models/train_telemetry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <map>

using namespace cxr;
using cxr::test::TempDir;

namespace {

NetConfig tiny_config() {
  NetConfig c = NetConfig::cxr_small().narrowed(0.125);
  c.blocks.resize(4);
  c.input_size = 32;
  return c;
}

// The layer a parameter belongs to, from its name alone (not from the modules, as
// the recorder finds it): stem_conv/stem_bn -> stem, blocks.<i>.* -> blocks.<i>.
std::string layer_of(const std::string& name) {
  if (name.starts_with("stem_")) return "stem";
  if (name.starts_with("blocks.")) return name.substr(0, name.find('.', 7));
  return "head";
}

double near_tolerance(double x) {
  return 1e-12 * (1 + std::abs(x));  // float64 sums of <= 10^4 terms in another order
}

// Boost.JSON reads decimals back to within an ulp (models/json_fields.h), not exactly.
double json_tolerance(double x) {
  return 4e-16 * std::abs(x);
}

// A synthetic run that mirrors the trainer's step: `prepare` may break the net
// before training, `make_step` returns the optimizer's step function.
struct SyntheticRun {
  DepthwiseSeparableNet net{tiny_config(), 1};
  ParameterSet params{net, 2};
  Generator gen{3};
  using Step = std::function<void()>;

  std::vector<TelemetryRecord> run(const std::filesystem::path& dir, int steps, double lr, bool adamw,
                                   const std::function<void(const UpdateView&, bool before)>& check = nullptr) {
    TelemetryRecorder recorder(dir, 2);
    std::unique_ptr<AdamW> adam;
    std::unique_ptr<SGD> sgd;
    if (adamw)
      adam = std::make_unique<AdamW>(params, AdamWOptions{lr, 0.9, 0.999, 1e-8, 0.0});
    else
      sgd = std::make_unique<SGD>(params, SGDOptions{lr});
    net.train();
    for (int s = 1; s <= steps; ++s) {
      const LabelledBatch batch = make_synthetic_batch(8, 32, gen);
      params.zero_grad();
      const Tensor loss = cross_entropy(net.forward(batch.images), batch.labels);
      loss.backward();
      UpdateView u{net, params, batch.images, 0, s, 1};
      recorder.before_update(u);
      if (check) check(u, true);
      adamw ? adam->step() : sgd->step();
      u.lr = lr;
      u.loss = loss.item();
      recorder.after_update(u);
      if (check) check(u, false);
    }
    return read_telemetry(dir);
  }
};

std::vector<Pathology> kinds(const RunSummary& s, const std::string& layer = "*") {
  std::vector<Pathology> out;
  for (const auto& w : s.warnings)
    if (layer == "*" || w.layer == layer) out.push_back(w.kind);
  return out;
}

bool has(const std::vector<Pathology>& v, Pathology p) {
  return std::find(v.begin(), v.end(), p) != v.end();
}

}  // namespace

TEST(TrainTelemetry, EveryNumberEqualsARecomputationFromTheTensors) {
  TempDir dir;
  SyntheticRun r;
  // Expected values, recomputed here around each due step.
  std::map<std::string, double> grad2, before_values;
  std::vector<double> values_before;
  std::vector<std::map<std::string, double>> expected;
  const auto check = [&](const UpdateView& u, bool before) {
    if (u.step % 2 != 0) return;
    const auto& entries = u.params.parameters();
    if (before) {
      grad2.clear();
      values_before = u.params.values().to_vector();
      for (const auto& e : entries) {
        const Tensor g = u.params.grads().view_of_storage(e.offset, e.tensor.shape());
        for (std::int64_t i = 0; i < g.numel(); ++i) grad2[layer_of(e.name)] += g.at(i) * g.at(i);
      }
      return;
    }
    std::map<std::string, double> ex;
    ex["step"] = static_cast<double>(u.step);
    ex["loss"] = u.loss;
    std::map<std::string, double> w2, d2;
    const std::vector<double> after = u.params.values().to_vector();
    for (const auto& e : entries)
      for (std::int64_t i = e.offset; i < e.offset + e.tensor.numel(); ++i) {
        w2[layer_of(e.name)] += after[i] * after[i];
        d2[layer_of(e.name)] += (after[i] - values_before[i]) * (after[i] - values_before[i]);
      }
    for (const auto& [layer, g] : grad2) {
      ex[layer + ".grad_norm"] = std::sqrt(g);
      ex[layer + ".weight_norm"] = std::sqrt(w2[layer]);
      ex[layer + ".update_ratio"] = std::sqrt(d2[layer]) / std::sqrt(w2[layer]);
    }
    // Activations of the probe images in evaluation mode, after the update (the
    // recorder took them before it: the batch-norm buffers did not move in between,
    // and in evaluation mode nothing else but the weights matters; so recompute them
    // from the weights before the update).
    Tensor saved = u.params.values().clone();
    u.params.values().copy_(Tensor::from_vector(values_before, u.params.values().shape(), DType::F32));
    u.net.eval();
    {
      NoGradGuard no_grad;
      const Tensor probe = u.input.slice_rows(0, kTelemetryProbeImages);
      for (const std::string& layer : u.net.layer_names()) {
        const Tensor a = u.net.forward_until(probe, layer);
        const std::int64_t n = a.size(0), C = a.size(1), hw = a.size(2) * a.size(3);
        double zeros = 0, dead = 0;
        for (std::int64_t c = 0; c < C; ++c) {
          bool all_zero = true;
          for (std::int64_t i = 0; i < n; ++i)
            for (std::int64_t j = 0; j < hw; ++j) {
              const bool z = a.at((i * C + c) * hw + j) == 0.0;
              zeros += z;
              all_zero = all_zero && z;
            }
          dead += all_zero;
        }
        ex[layer + ".zero_fraction"] = zeros / static_cast<double>(a.numel());
        ex[layer + ".dead_channels"] = dead / static_cast<double>(C);
      }
    }
    u.params.values().copy_(saved);
    u.net.train();
    for (const auto& b : u.net.buffers()) {
      const std::string layer = layer_of(b.name);
      const bool is_mean = b.name.ends_with("running_mean");
      for (std::int64_t i = 0; i < b.slot->numel(); ++i) {
        ex[layer + (is_mean ? ".bn_mean_sum" : ".bn_var_sum")] += is_mean ? std::abs(b.slot->at(i)) : b.slot->at(i);
        if (is_mean) ex[layer + ".bn_channels"] += 1;
      }
    }
    expected.push_back(ex);
  };
  const std::vector<TelemetryRecord> records = r.run(dir.path(), 6, 1e-3, true, check);
  ASSERT_EQ(records.size(), 3u);
  ASSERT_EQ(expected.size(), 3u);
  for (std::size_t k = 0; k < records.size(); ++k) {
    const TelemetryRecord& rec = records[k];
    auto& ex = expected[k];
    EXPECT_EQ(rec.step, static_cast<std::int64_t>(ex["step"]));
    EXPECT_NEAR(rec.loss, ex["loss"], json_tolerance(ex["loss"]));
    EXPECT_NEAR(rec.lr, 1e-3, json_tolerance(1e-3));
    ASSERT_EQ(rec.layers.size(), r.net.layer_names().size() + 1);
    for (const LayerTelemetry& l : rec.layers) {
      SCOPED_TRACE(l.name + " at step " + std::to_string(rec.step));
      for (const char* key : {"grad_norm", "weight_norm", "update_ratio"}) {
        const std::optional<double> got = key == std::string("grad_norm")     ? l.grad_norm
                                          : key == std::string("weight_norm") ? l.weight_norm
                                                                              : l.update_ratio;
        ASSERT_TRUE(got.has_value()) << key;
        EXPECT_NEAR(*got, ex[l.name + "." + key], near_tolerance(ex[l.name + "." + key])) << key;
      }
      EXPECT_TRUE(l.trainable);
      if (l.name == "head") {
        EXPECT_FALSE(l.zero_fraction || l.bn_mean);
        continue;
      }
      EXPECT_NEAR(l.zero_fraction.value(), ex[l.name + ".zero_fraction"],
                  json_tolerance(ex[l.name + ".zero_fraction"]));
      EXPECT_NEAR(l.dead_channels.value(), ex[l.name + ".dead_channels"],
                  json_tolerance(ex[l.name + ".dead_channels"]));
      const double channels = ex[l.name + ".bn_channels"];
      EXPECT_NEAR(l.bn_mean.value(), ex[l.name + ".bn_mean_sum"] / channels, near_tolerance(l.bn_mean.value()));
      EXPECT_NEAR(l.bn_var.value(), ex[l.name + ".bn_var_sum"] / channels, near_tolerance(l.bn_var.value()));
    }
  }
}

TEST(TrainTelemetry, LinesRoundTripAndATornLastLineIsSkipped) {
  TelemetryRecord r;
  r.step = 40;
  r.epoch = 2;
  r.lr = 5e-4;
  r.loss = NAN;
  r.layers.push_back({"stem", true, 1.5, 2.5, 0.01, 0.004, 0.5, 0.25, 0.1, 0.9});
  LayerTelemetry head;  // only a gradient norm: every other figure absent
  head.name = "head";
  head.grad_norm = 3.0;
  r.layers.push_back(head);
  const TelemetryRecord back = parse_telemetry_line(telemetry_json_line(r));
  EXPECT_EQ(back.step, 40);
  EXPECT_EQ(back.epoch, 2);
  EXPECT_EQ(back.lr, 5e-4);
  EXPECT_TRUE(std::isnan(back.loss));  // written as null
  ASSERT_EQ(back.layers.size(), 2u);
  EXPECT_EQ(back.layers[0].dead_channels, 0.25);
  EXPECT_EQ(back.layers[0].bn_var, 0.9);
  EXPECT_FALSE(back.layers[1].trainable);
  EXPECT_EQ(back.layers[1].grad_norm, 3.0);
  EXPECT_FALSE(back.layers[1].weight_norm || back.layers[1].zero_fraction);

  TempDir dir;
  {
    std::ofstream out(dir.path() / kTelemetryFile);
    out << telemetry_json_line(r) << "\n" << telemetry_json_line(r).substr(0, 30);
  }
  EXPECT_EQ(read_telemetry(dir.path()).size(), 1u);
  {
    std::ofstream out(dir.path() / kTelemetryFile);
    out << "{\"step\": 1}\n" << telemetry_json_line(r) << "\n";
  }
  EXPECT_THROW(read_telemetry(dir.path()), Error);
  EXPECT_THROW(read_telemetry(dir.path() / "missing"), Error);
  EXPECT_THROW(summarize_telemetry({}), Error);
}

TEST(TrainTelemetry, AHealthyRunHasNoWarning) {
  TempDir dir;
  SyntheticRun r;
  const RunSummary s = summarize_telemetry(r.run(dir.path(), 8, 1e-3, true));
  EXPECT_EQ(s.records, 4u);
  for (const auto& w : s.warnings) ADD_FAILURE() << w.message;
}

TEST(TrainTelemetry, ATinyLearningRateWarnsOfSmallUpdates) {
  TempDir dir;
  SyntheticRun r;
  const RunSummary s = summarize_telemetry(r.run(dir.path(), 4, 1e-8, true));
  for (const LayerSummary& l : s.layers) EXPECT_TRUE(has(kinds(s, l.name), Pathology::update_ratio_low)) << l.name;
}

TEST(TrainTelemetry, AHugeLearningRateWarnsOfLargeUpdatesAndExplodingGradients) {
  TempDir dir;
  SyntheticRun r;
  const RunSummary s = summarize_telemetry(r.run(dir.path(), 12, 50.0, false));
  const auto all = kinds(s);
  EXPECT_TRUE(has(all, Pathology::update_ratio_high));
  EXPECT_TRUE(has(all, Pathology::exploding_gradients));
}

TEST(TrainTelemetry, ADeadLayerIsFoundAndTheGradientsBeforeItVanish) {
  TempDir dir;
  SyntheticRun r;
  // A batch norm shifted far below zero: the ReLU after it never fires again.
  for (const auto& p : r.params.parameters())
    if (p.name == "blocks.1.bn2.bias") Tensor(p.tensor).fill_(-100.0);
  const RunSummary s = summarize_telemetry(r.run(dir.path(), 4, 1e-3, true));
  EXPECT_TRUE(has(kinds(s, "blocks.1"), Pathology::dead_layer));
  for (const char* before : {"stem", "blocks.0"})
    EXPECT_TRUE(has(kinds(s, before), Pathology::vanishing_gradients)) << before;
  EXPECT_FALSE(has(kinds(s, "blocks.0"), Pathology::dead_layer));  // the layers before it still fire
}

TEST(TrainTelemetry, TheTrainerRecordsWithoutChangingTraining) {
  TempDir dir;
  test::write_stripes_dataset(dir.path() / "data", 24, {64, 16, 0}, 5);
  const auto options = [&](const std::string& name) {
    TrainOptions o;
    o.data_dir = dir.path() / "data";
    o.out = dir.path() / name / "model.safetensors";
    std::filesystem::create_directories(o.out.parent_path());
    o.width = 0.25;
    o.epochs = 1;
    o.batch = 8;
    o.workers = 1;
    o.patience = 0;
    return o;
  };
  const auto losses_of = [&](const std::string& name, TelemetryRecorder* recorder) {
    std::vector<double> losses;
    TrainCallbacks cb;
    if (recorder) recorder->attach(cb);
    cb.on_step = [&](const StepReport& s) {
      losses.push_back(s.loss);
    };
    train(options(name), nullptr, cb);
    return losses;
  };
  TelemetryRecorder recorder(dir.path() / "telemetry", 3);
  const std::vector<double> with = losses_of("with", &recorder), without = losses_of("without", nullptr);
  EXPECT_EQ(with, without);  // bit for bit
  const auto records = read_telemetry(dir.path() / "telemetry");
  ASSERT_EQ(records.size(), with.size() / 3);
  for (std::size_t k = 0; k < records.size(); ++k) {
    EXPECT_EQ(records[k].step, static_cast<std::int64_t>(3 * (k + 1)));
    EXPECT_NEAR(records[k].loss, with[3 * (k + 1) - 1], json_tolerance(with[3 * (k + 1) - 1]));
  }
}
