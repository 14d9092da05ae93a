// Fine-tuning in the trainer (models/trainer.h): starting from a model file, the
// frozen layers' weights and batch-norm statistics staying bit for bit, the
// optimizers' frozen prefix, a second dataset directory (Dataset::concat), and the
// thread-pool scope the web app trains under giving the results of that many threads.
#include "data_fixtures.h"
#include "expect_error.h"
#include "finetune_fixtures.h"

#include "base/parallel.h"
#include "data/dataset.h"
#include "engine/optim/adamw.h"
#include "engine/optim/sgd.h"
#include "models/depthwise_net.h"
#include "models/presets.h"
#include "models/trainer.h"

#include <cmath>

using namespace cxr;
using cxr::test::TempDir;
using cxr::testing::expect_error_mentioning;

namespace {

constexpr int kSize = 24;

TEST(Unfreeze, NamesAndTheLastFrozenLayer) {
  for (Unfreeze u : {Unfreeze::all, Unfreeze::last_3_blocks, Unfreeze::last_block, Unfreeze::head})
    EXPECT_EQ(parse_unfreeze(unfreeze_name(u)), u);
  EXPECT_FALSE(parse_unfreeze("last").has_value());

  const NetConfig small = NetConfig::cxr_small(4);  // 8 separable blocks
  EXPECT_EQ(last_frozen_layer(small, Unfreeze::all), "");
  EXPECT_EQ(last_frozen_layer(small, Unfreeze::head), "blocks.7");
  EXPECT_EQ(last_frozen_layer(small, Unfreeze::last_block), "blocks.6");
  EXPECT_EQ(last_frozen_layer(small, Unfreeze::last_3_blocks), "blocks.4");
  // kaggle-sep ends in a max pool (block 12), which has no weights to train.
  const NetConfig kaggle = preset_config("kaggle-sep");
  EXPECT_EQ(last_frozen_layer(kaggle, Unfreeze::head), "blocks.12");
  EXPECT_EQ(last_frozen_layer(kaggle, Unfreeze::last_block), "blocks.10");
  EXPECT_EQ(last_frozen_layer(kaggle, Unfreeze::last_3_blocks), "blocks.8");
  NetConfig two = small;
  two.blocks.resize(2);
  EXPECT_EQ(last_frozen_layer(two, Unfreeze::last_3_blocks), "");  // fewer blocks: all train
  EXPECT_EQ(last_frozen_layer(two, Unfreeze::last_block), "blocks.0");
  two.blocks.resize(1);
  EXPECT_EQ(last_frozen_layer(two, Unfreeze::last_block), "stem");
}

class TwoParams : public Module {
 public:
  TwoParams() {
    declare_parameter("a", &a, {20}, Init::constant(0.5));
    declare_parameter("b", &b, {7}, Init::constant(-1.0));
  }
  Tensor a, b;
};

void fill_grads(ParameterSet& ps) {
  float* g = ps.grads().data<float>();
  for (std::int64_t i = 0; i < ps.grads().numel(); ++i) g[i] = 0.01f * static_cast<float>(i) - 0.2f;
}

// The frozen prefix stays bit for bit (weight decay included); the rest moves exactly
// as under an optimizer over everything (the update is elementwise).
TEST(FrozenPrefix, AdamWAndSgdUpdateOnlyFromTheirFirstOffset) {
  for (const bool adamw : {true, false}) {
    TwoParams frozen_model, full_model;
    ParameterSet frozen(frozen_model, 1), full(full_model, 1);
    const std::int64_t first = frozen.parameters()[1].offset;
    ASSERT_GT(first, 0);
    std::unique_ptr<AdamW> a1, a2;
    std::unique_ptr<SGD> s1, s2;
    if (adamw) {
      a1 = std::make_unique<AdamW>(frozen, AdamWOptions{0.01, 0.9, 0.999, 1e-8, 0.1}, first);
      a2 = std::make_unique<AdamW>(full, AdamWOptions{0.01, 0.9, 0.999, 1e-8, 0.1});
    } else {
      s1 = std::make_unique<SGD>(frozen, SGDOptions{0.05, 0.9, 0.0, 0.1, true}, first);
      s2 = std::make_unique<SGD>(full, SGDOptions{0.05, 0.9, 0.0, 0.1, true});
    }
    for (int step = 0; step < 3; ++step) {
      fill_grads(frozen);
      fill_grads(full);
      if (adamw) {
        a1->step();
        a2->step();
      } else {
        s1->step();
        s2->step();
      }
    }
    for (std::int64_t i = 0; i < 20; ++i) EXPECT_EQ(frozen_model.a.at(i), 0.5) << i;
    for (std::int64_t i = 0; i < 7; ++i) {
      EXPECT_EQ(frozen_model.b.at(i), full_model.b.at(i)) << i;
      EXPECT_NE(frozen_model.b.at(i), -1.0) << i;
    }
    EXPECT_NE(full_model.a.at(0), 0.5);
  }
  TwoParams m;
  ParameterSet ps(m, 1);
  expect_error_mentioning([&] { AdamW(ps, {}, ps.count() + 1); }, {"AdamW", "first trainable offset"});
}

TEST(DatasetConcat, AppendsImagesAndRenumbersRows) {
  TempDir dir;
  test::write_stripes_dataset(dir / "a", kSize, {8, 4, 4}, 1);
  test::write_stripes_dataset(dir / "b", kSize, {3, 2, 1}, 2);
  const auto a = data::Dataset::open(dir / "a"), b = data::Dataset::open(dir / "b");
  const auto both = data::Dataset::concat(a, b);
  ASSERT_EQ(both.size(), 22);
  EXPECT_EQ(both.pixels(3), a.pixels(3));
  EXPECT_EQ(both.pixels(16), b.pixels(0));
  EXPECT_EQ(both.pixels(21), b.pixels(5));
  EXPECT_EQ(both.row(16).id, 16);
  EXPECT_EQ(both.label(17), b.label(1));
  EXPECT_EQ(both.indices(data::Split::train).size(), 11u);
  EXPECT_EQ(both.indices(data::Split::test).back(), 21);
  EXPECT_NE(both.manifest_sha256(), a.manifest_sha256());
  EXPECT_EQ(both.mean(), a.mean());
  test::write_stripes_dataset(dir / "c", 16, {2, 1, 1}, 3);
  expect_error_mentioning([&] { data::Dataset::concat(a, data::Dataset::open(dir / "c")); },
                          {"concat", "24x24", "16x16"});
  expect_error_mentioning([&] { data::Dataset::concat(both, b); }, {"concatenations"});
}

class FineTune : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    test::write_stripes_dataset(data_dir(), kSize, {256, 64, 32}, 11);
    test::write_stripes_dataset(*dir_ / "extra", kSize, {32, 8, 8}, 12);
    LoadedModel m = test::tiny_four_class_model(kSize, 5);
    save_model(init_path().string(), *m.net, m.info);
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::filesystem::path data_dir() { return *dir_ / "data"; }
  static std::filesystem::path init_path() { return *dir_ / "init.safetensors"; }

  TrainOptions options(const std::string& name, Unfreeze unfreeze) const {
    TrainOptions o;
    o.data_dir = data_dir();
    o.out = *dir_ / name / "model.safetensors";
    std::filesystem::create_directories(o.out.parent_path());
    o.init_model = init_path();
    o.unfreeze = unfreeze;
    o.epochs = 1;
    o.batch = 16;
    o.lr = 3e-3;
    o.workers = 1;
    o.patience = 0;
    return o;
  }

  static TempDir* dir_;
};
TempDir* FineTune::dir_ = nullptr;

struct Trained {
  LoadedModel init, out;
  TrainPlan plan;
  std::vector<double> losses;
};

Trained fine_tune(const TrainOptions& o) {
  Trained t;
  TrainCallbacks cb;
  cb.on_start = [&](const TrainPlan& p) {
    t.plan = p;
  };
  cb.on_step = [&](const StepReport& s) {
    t.losses.push_back(s.loss);
  };
  train(o, nullptr, cb);
  t.init = load_model(o.init_model->string());
  t.out = load_model(o.out.string());
  return t;
}

// Parameters and buffers whose names start with one of `prefixes` changed; every
// other one is bit for bit the starting model's.
void expect_only_changed(const Trained& t, const std::vector<std::string>& prefixes) {
  auto trained = [&](const std::string& name) {
    for (const auto& p : prefixes)
      if (name.rfind(p, 0) == 0) return true;
    return false;
  };
  auto compare = [&](const std::vector<ParameterSet::Entry>& a, const std::vector<ParameterSet::Entry>& b,
                     bool parameters) {
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t k = 0; k < a.size(); ++k) {
      ASSERT_EQ(a[k].name, b[k].name);
      bool same = true;
      for (std::int64_t i = 0; i < a[k].tensor.numel(); ++i) same = same && a[k].tensor.at(i) == b[k].tensor.at(i);
      // A trained parameter moves; a buffer of a trained layer may hold constants
      // (num_batches_tracked-like) so only parameters must change.
      if (trained(a[k].name)) {
        if (parameters) {
          EXPECT_FALSE(same) << a[k].name << " did not train";
        }
      } else {
        EXPECT_TRUE(same) << a[k].name << " is frozen but changed";
      }
    }
  };
  compare(t.init.params->parameters(), t.out.params->parameters(), true);
  compare(t.init.params->buffers(), t.out.params->buffers(), false);
}

TEST_F(FineTune, HeadOnlyKeepsTheFeatureLayersBitForBit) {
  const Trained t = fine_tune(options("head", Unfreeze::head));
  expect_only_changed(t, {"classifier."});
  std::int64_t head = 0;
  for (const auto& p : t.out.params->parameters())
    if (p.name.rfind("classifier.", 0) == 0) head += p.tensor.numel();
  EXPECT_GE(t.plan.trainable_parameters, head);  // the classifier, from its 16-aligned start
  EXPECT_LT(t.plan.trainable_parameters, head + 16);
  EXPECT_EQ(t.out.info.class_names, t.init.info.class_names);
  EXPECT_EQ(t.out.info.config, t.init.info.config);
}

TEST_F(FineTune, LastBlockTrainsItsWeightsAndBatchNormStatisticsOnly) {
  const Trained t = fine_tune(options("last_block", Unfreeze::last_block));
  expect_only_changed(t, {"blocks.3.", "classifier."});
  // Its running statistics follow the new data; the frozen blocks' stay.
  bool moved = false;
  for (std::size_t k = 0; k < t.out.params->buffers().size(); ++k) {
    const auto& b = t.out.params->buffers()[k];
    if (b.name.rfind("blocks.3.", 0) == 0 && b.tensor.at(0) != t.init.params->buffers()[k].tensor.at(0)) moved = true;
  }
  EXPECT_TRUE(moved);
}

// From a trained model the first losses are those of a trained model, not of a
// fresh initialisation (ln 4 = 1.39 on this balanced task).
TEST_F(FineTune, StartsFromTheModelsWeights) {
  TrainOptions base = options("pretrain", Unfreeze::all);  // from the randomly initialised model
  base.epochs = 8;
  base.lr = 1e-2;
  const Trained pre = fine_tune(base);
  ASSERT_LT(pre.losses.back(), 0.9) << "the tiny model did not learn the stripes";

  TrainOptions again = options("again", Unfreeze::all);
  again.init_model = base.out;
  again.lr = 1e-4;
  const Trained t = fine_tune(again);
  EXPECT_LT(t.losses.front(), 0.9);
  EXPECT_GT(pre.losses.front(), 1.2);
}

TEST_F(FineTune, ExtraDataAddsTrainAndValidationImages) {
  TrainOptions o = options("extra", Unfreeze::head);
  o.extra_data = *dir_ / "extra";
  Trained t = fine_tune(o);
  EXPECT_EQ(t.plan.train_images, 256 + 32);
  EXPECT_EQ(t.plan.val_images, 64 + 8);
}

TEST_F(FineTune, MismatchedModelsAndMissingStartAreClearErrors) {
  LoadedModel three = test::tiny_four_class_model(kSize, 5);
  three.info.config.num_classes = 3;
  three.info.class_names = data::class_names(3);
  three.net = make_net(three.info.config, 1);
  three.params = std::make_unique<ParameterSet>(*three.net, 1);
  const auto path = (*dir_ / "three.safetensors").string();
  save_model(path, *three.net, three.info);
  TrainOptions o = options("three", Unfreeze::head);
  o.init_model = path;
  expect_error_mentioning([&] { train(o); }, {"covid, normal, bacterial, viral", "covid, normal, other_pneumonia"});
  o.init_model.reset();
  expect_error_mentioning([&] { train(o); }, {"freezing layers", "model to start from"});
}

// The web app trains inside ThreadPoolScope(n) beside a shared pool of another size:
// the result must be that of a process running with n threads, bit for bit.
TEST_F(FineTune, ThreadPoolScopeGivesTheResultsOfThatThreadCount) {
  const int saved = num_threads();
  set_num_threads(1);
  const Trained one = fine_tune(options("threads1", Unfreeze::last_block));
  set_num_threads(2);
  std::vector<double> scoped;
  {
    ThreadPoolScope scope(1);
    scoped = fine_tune(options("scoped1", Unfreeze::last_block)).losses;
  }
  set_num_threads(saved);
  EXPECT_EQ(scoped, one.losses);
}

}  // namespace
