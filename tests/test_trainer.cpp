// `cxr train` (models/trainer.h) on a small synthetic dataset directory: it learns,
// a run stopped part-way (stop flag, SIGINT, time limit) and resumed is bit-identical
// to the run that never stopped, the model card says what happened, and bad inputs
// are clear errors.
#include "data_fixtures.h"
#include "expect_error.h"

#include "data/manifest.h"
#include "engine/data/cache_file.h"
#include "engine/data/sha256.h"
#include "engine/io/safetensors.h"
#include "models/model_file.h"
#include "models/stop_signal.h"
#include "models/train_state.h"
#include "models/trainer.h"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <map>

using namespace cxr;
using cxr::test::TempDir;
using cxr::testing::expect_error_mentioning;

namespace {

constexpr int kSize = 24;
constexpr double kPi = 3.141592653589793;

// A synthetic 4-class task as a built dataset directory: noisy stripes of random
// period, phase and contrast whose orientation is the class; `train` + `val` grey
// images, one patient each. Translation-invariant, so a small CNN with global
// pooling learns it from a few hundred images (unlike models/synthetic.h, whose
// left/right classes need thousands).
// With constant_val, every validation image is a copy of the first one.
void write_synthetic_dataset(const std::filesystem::path& dir, int train, int val, std::uint64_t seed,
                             bool constant_val = false) {
  std::filesystem::create_directories(dir);
  Generator gen(seed);
  const int n = train + val;
  data::CacheWriter cache(dir / "cache.bin", {static_cast<std::uint64_t>(n), kSize, 4, 0.5f, 0.25f});
  std::vector<data::ManifestRow> rows;
  std::vector<std::uint8_t> px(kSize * kSize);
  int label = 0;
  for (int i = 0; i < n; ++i) {
    if (constant_val && i > train) {
      cache.write(px.data());
      rows.push_back({i, data::Source::kermany, fmt::format("val/copy{}.png", i), fmt::format("kermany:s{}", i), label,
                      data::Split::val, "PA", std::string(64, '0')});
      continue;
    }
    label = static_cast<int>(gen.below(4));
    // Stripes whose orientation is the class: horizontal, vertical, the two diagonals.
    const double period = gen.uniform(4, 7), phase = gen.uniform(0, 2 * kPi), contrast = gen.uniform(50, 90);
    const double ux = label == 0 ? 0 : label == 1 ? 1 : std::sqrt(0.5);
    const double uy = label == 0 ? 1 : label == 1 ? 0 : label == 2 ? std::sqrt(0.5) : -std::sqrt(0.5);
    for (int y = 0; y < kSize; ++y)
      for (int x = 0; x < kSize; ++x) {
        const double wave = std::sin(2 * kPi * (ux * x + uy * y) / period + phase);
        px[y * kSize + x] =
            static_cast<std::uint8_t>(std::clamp(128 + contrast * wave + 15 * gen.normal(), 0.0, 255.0));
      }
    cache.write(px.data());
    rows.push_back({i, data::Source::kermany, fmt::format("train/s{}.png", i), fmt::format("kermany:s{}", i), label,
                    i < train ? data::Split::train : data::Split::val, "PA", std::string(64, '0')});
  }
  cache.close();
  data::write_manifest(dir / "manifest.csv", rows, 4);
}

// The same images as three sources with age groups, as the shortcut mitigations see
// them: image i is ieee8023 (adult), Kermany (child) or NIH (adult) by i % 3, and the
// NIH images of classes 2 and 3 carry the label set {2, 3} (target 4).
void write_mixed_source_copy(const std::filesystem::path& from, const std::filesystem::path& to) {
  std::filesystem::create_directories(to);
  std::filesystem::copy_file(from / "cache.bin", to / "cache.bin");
  auto rows = data::read_manifest(from / "manifest.csv", 4);
  for (auto& r : rows) {
    const data::Source sources[] = {data::Source::ieee8023, data::Source::kermany, data::Source::nih};
    r.source = sources[r.id % 3];
    r.age_group = r.source == data::Source::kermany ? data::AgeGroup::child : data::AgeGroup::adult;
    if (r.source == data::Source::nih && r.label >= 2) r.label = 4;
  }
  data::write_manifest(to / "manifest.csv", rows, 4);
}

class Trainer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    write_synthetic_dataset(data_dir(), 512, 128, 11);
    write_mixed_source_copy(data_dir(), mixed_dir());
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::filesystem::path data_dir() { return *dir_ / "data"; }
  static std::filesystem::path mixed_dir() { return *dir_ / "mixed"; }

  // Every mitigation against the source shortcut at once, on the mixed-source copy.
  TrainOptions mitigated(const std::string& name) const {
    TrainOptions o = options(name);
    o.data_dir = mixed_dir();
    o.balance = SampleBalance::source;
    o.strong_augment = true;
    o.adversary = 0.5;
    o.select = Selection::worst_cell;
    o.class_weights = ClassWeighting::none;
    return o;
  }

  TrainOptions options(const std::string& name) const {
    TrainOptions o;
    o.data_dir = data_dir();
    o.out = *dir_ / name / "model.safetensors";
    std::filesystem::create_directories(o.out.parent_path());
    o.width = 0.25;
    o.epochs = 2;
    o.batch = 16;
    o.lr = 3e-3;
    o.workers = 1;
    o.patience = 0;
    return o;
  }

  static TempDir* dir_;
};
TempDir* Trainer::dir_ = nullptr;

struct Recorded {
  TrainResult result;
  std::vector<double> losses;
};

Recorded run(const TrainOptions& o, const std::atomic<bool>* stop = nullptr,
             const std::function<void(const StepReport&)>& after_step = nullptr) {
  Recorded r;
  TrainCallbacks cb;
  cb.on_step = [&](const StepReport& s) {
    r.losses.push_back(s.loss);
    if (after_step) after_step(s);
  };
  r.result = train(o, stop, cb);
  return r;
}

void expect_same_tensors(const std::string& a, const std::string& b) {
  const SafetensorsFile fa = load_safetensors(a), fb = load_safetensors(b);
  ASSERT_EQ(fa.tensors.size(), fb.tensors.size());
  for (const auto& [name, t] : fa.tensors) {
    const Tensor& u = fb.at(name);
    ASSERT_EQ(t.shape(), u.shape()) << name;
    for (std::int64_t i = 0; i < t.numel(); ++i) ASSERT_EQ(t.at(i), u.at(i)) << name << "[" << i << "]";
  }
}

TEST_F(Trainer, LearnsTheSyntheticTaskAndWritesModelAndCard) {
  TrainOptions o = options("learn");
  o.epochs = 5;
  o.augment = false;
  const Recorded r = run(o);
  ASSERT_EQ(r.result.history.size(), 5u);
  EXPECT_EQ(r.result.stop, StopReason::completed);
  const EpochRecord& best = r.result.history.at(r.result.best_epoch - 1);
  for (const auto& e : r.result.history) EXPECT_LE(e.val_macro_f1, best.val_macro_f1);
  // Chance is 25%; this run reaches about 93% (PyTorch, same net and data: similar).
  EXPECT_GT(best.val_accuracy, 0.85);
  EXPECT_LT(r.result.history.back().train_loss, r.result.history.front().train_loss);
  EXPECT_EQ(r.result.steps, 5 * (512 / 16));
  EXPECT_FALSE(std::filesystem::exists(r.result.checkpoint_path));  // a finished run leaves none

  // The model file is the best epoch, self-describing.
  const LoadedModel m = load_model(o.out.string());
  EXPECT_EQ(m.info.preset, "cxr-small");
  EXPECT_EQ(m.info.config.input_size, kSize);
  EXPECT_EQ(m.info.class_names, (std::vector<std::string>{"covid", "normal", "bacterial", "viral"}));
  EXPECT_FLOAT_EQ(m.info.mean, 0.5f);

  // The model card.
  const auto card = boost::json::parse(cxr::test::read_file(card_path_for(o.out))).as_object();
  EXPECT_EQ(card.at("format").as_string(), "cxr-model-card");
  const std::string manifest = cxr::test::read_file(data_dir() / "manifest.csv");
  EXPECT_EQ(card.at("data").at("manifest_sha256").as_string(),
            data::to_hex(data::sha256({reinterpret_cast<const std::uint8_t*>(manifest.data()), manifest.size()})));
  EXPECT_EQ(card.at("history").as_array().size(), 5u);
  EXPECT_EQ(card.at("training").at("best_epoch").as_int64(), r.result.best_epoch);
  EXPECT_EQ(card.at("training").at("stop_reason").as_string(), "completed");
  EXPECT_FALSE(card.at("training").at("git_commit").as_string().empty());
  EXPECT_GT(card.at("training").at("images_per_second").to_number<double>(), 0.0);
  EXPECT_EQ(card.at("final").at("best").at("val_macro_f1").to_number<double>(), best.val_macro_f1);
  EXPECT_EQ(card.at("model").at("config").at("input_size").as_int64(), kSize);
}

// Stops after `k` steps, resumes, and compares with the uninterrupted run.
void expect_resume_identity(const TrainOptions& straight_options, const TrainOptions& split_options, int k) {
  const Recorded straight = run(straight_options);

  std::atomic<bool> stop{false};
  const Recorded first = run(split_options, &stop, [&](const StepReport& s) {
    if (s.step == k) stop = true;
  });
  EXPECT_EQ(first.result.stop, StopReason::interrupted);
  ASSERT_EQ(first.losses.size(), static_cast<std::size_t>(k));
  ASSERT_TRUE(std::filesystem::exists(first.result.checkpoint_path));

  TrainOptions resume = split_options;
  resume.resume = first.result.checkpoint_path;
  const Recorded second = run(resume);
  EXPECT_EQ(second.result.stop, StopReason::completed);

  std::vector<double> joined = first.losses;
  joined.insert(joined.end(), second.losses.begin(), second.losses.end());
  ASSERT_EQ(joined.size(), straight.losses.size());
  for (std::size_t i = 0; i < joined.size(); ++i) EXPECT_EQ(joined[i], straight.losses[i]) << "step " << i + 1;
  ASSERT_EQ(second.result.history.size(), straight.result.history.size());
  for (std::size_t e = 0; e < straight.result.history.size(); ++e) {
    EXPECT_EQ(second.result.history[e].train_loss, straight.result.history[e].train_loss) << "epoch " << e + 1;
    EXPECT_EQ(second.result.history[e].val_loss, straight.result.history[e].val_loss) << "epoch " << e + 1;
    EXPECT_EQ(second.result.history[e].val_f1, straight.result.history[e].val_f1) << "epoch " << e + 1;
  }
  expect_same_tensors(straight_options.out.string(), split_options.out.string());
}

TEST_F(Trainer, SelectLastKeepsTheFinalEpochWhateverValidationSays) {
  TrainOptions o = options("select-last");
  o.epochs = 3;
  o.select = Selection::last;
  const Recorded r = run(o);
  EXPECT_EQ(r.result.best_epoch, 3);
  EXPECT_EQ(parse_selection(selection_name(Selection::last)), Selection::last);
}

TEST_F(Trainer, ResumedMidEpochIsBitIdenticalToTheStraightRun) {
  // Augmentation and dropout on: their random state must survive the checkpoint.
  expect_resume_identity(options("straight"), options("split-mid"), 32 + 7);
}

TEST_F(Trainer, ResumedBeforeValidationIsBitIdenticalToo) {
  // Stopped right after an epoch's last step: validation runs after the resume.
  TrainOptions a = options("straight-sgd"), b = options("split-end");
  a.optimizer = b.optimizer = OptimizerKind::sgd;
  expect_resume_identity(a, b, 32);
}

TEST_F(Trainer, SigintSavesAResumableCheckpointAndReturns) {
  const TrainOptions o = options("sigint");
  Recorded r;
  {
    StopOnSignal guard;
    r = run(o, guard.flag(), [](const StepReport& s) {
      if (s.step == 3) std::raise(SIGINT);  // handled: the process lives on
    });
    EXPECT_EQ(guard.signal(), SIGINT);
  }
  EXPECT_EQ(r.result.stop, StopReason::interrupted);
  EXPECT_EQ(r.result.steps, 3);
  EXPECT_TRUE(r.result.history.empty());
  const TrainCheckpoint c = load_train_checkpoint(r.result.checkpoint_path.string());
  EXPECT_EQ(c.state.epoch, 0);
  EXPECT_EQ(c.state.batch, 3);
  EXPECT_EQ(c.state.step, 3);
  EXPECT_EQ(c.state.options.seed, o.seed);
  EXPECT_TRUE(c.tensors.count("model.values") && c.tensors.count("optimizer.exp_avg_sq"));
}

TEST_F(Trainer, TimeLimitStopsResumably) {
  TrainOptions o = options("time");
  o.max_minutes = 1e-9;
  const Recorded r = run(o);
  EXPECT_EQ(r.result.stop, StopReason::time_limit);
  EXPECT_EQ(r.result.steps, 1);  // checked after every step
  EXPECT_TRUE(std::filesystem::exists(r.result.checkpoint_path));
}

TEST_F(Trainer, LearnsWithLabelSetsBalancedSamplingAndTheSourceAdversary) {
  TrainOptions o = mitigated("mitigated");
  // Five epochs, not three: after three the validation accuracy sat at 0.78-0.81
  // depending on the build's floating-point order (-O3 vs the sanitizer build's -O1);
  // six-epoch runs of both builds measured 0.91 at epoch five, so 0.8 tests learning,
  // not rounding.
  o.epochs = 5;
  const Recorded r = run(o);
  ASSERT_EQ(r.result.history.size(), 5u);
  const EpochRecord& last = r.result.history.back();
  // Label sets resolve as metrics.h says; the stripes are easy, so the model learns
  // them despite the adversary (it removes the source, not the class).
  EXPECT_GT(last.val_accuracy, 0.8);
  EXPECT_GT(last.train_source_loss, 0.0);
  EXPECT_FALSE(std::isnan(last.val_worst_cell_f1));  // three cells of about 43 validation images
  EXPECT_FALSE(last.val_worst_cell.empty());
  // The kept epoch is the best worst cell, not the best macro-F1.
  int best = 0;
  for (std::size_t e = 0; e < r.result.history.size(); ++e)
    if (r.result.history[e].val_worst_cell_f1 > r.result.history[best].val_worst_cell_f1) best = static_cast<int>(e);
  EXPECT_EQ(r.result.best_epoch, best + 1);
  const auto card = boost::json::parse(cxr::test::read_file(r.result.card_path)).as_object();
  const auto& options = card.at("training").at("options").as_object();
  EXPECT_EQ(options.at("balance").as_string(), "source");
  EXPECT_EQ(options.at("select").as_string(), "worst_cell");
  EXPECT_TRUE(options.at("strong_augment").as_bool());
  EXPECT_GT(card.at("data").at("images").at("train").at("pneumonia").as_int64(), 0);
  // The saved model's validation split by source x age group: the three sources' cells.
  EXPECT_EQ(card.at("final").at("by_source_and_age").at("cells").as_array().size(), 3u);
  // The adversary is training machinery: the model file holds only the classifier.
  for (const auto& [name, t] : load_safetensors(o.out.string()).tensors)
    EXPECT_EQ(name.find("adversary"), std::string::npos) << name;
}

TEST_F(Trainer, ResumedWithTheAdversaryIsBitIdenticalToo) {
  // The adversary's weights and optimizer state travel in the checkpoint.
  expect_resume_identity(mitigated("mitigated-straight"), mitigated("mitigated-split"), 32 + 5);
}

TEST_F(Trainer, TrainsAtASmallerInputSize) {
  TrainOptions o = options("size");
  o.epochs = 1;
  o.size = 16;
  const Recorded r = run(o);
  EXPECT_EQ(r.result.stop, StopReason::completed);
  const ModelInfo info = load_model(o.out.string()).info;
  EXPECT_EQ(info.config.input_size, 16);
  // Inference fits images as the dataset did, at its size, then resizes to 16.
  EXPECT_EQ(data::fit_name(info.fit.value()), "pad");
  EXPECT_EQ(std::to_string(info.dataset_size.value()), std::to_string(kSize));
}

TEST_F(Trainer, TrainFractionTrainsOnAPatientSubsetOfEveryClass) {
  TrainOptions o = options("fraction");
  o.epochs = 1;
  o.train_fraction = 0.25;
  const Recorded r = run(o);
  const auto card = boost::json::parse(cxr::test::read_file(r.result.card_path)).as_object();
  const auto& train = card.at("data").at("images").at("train").as_object();
  std::int64_t kept = 0;
  for (const auto& [name, n] : train) {
    if (name == "pneumonia") continue;   // the label set: the fixture has no such images
    EXPECT_GT(n.as_int64(), 0) << name;  // every class keeps patients
    kept += n.as_int64();
  }
  // One image per patient in the fixture: a quarter of 512, rounded per class.
  EXPECT_NEAR(static_cast<double>(kept), 128.0, 2.0);
  EXPECT_EQ(r.result.steps, kept / 16);  // batches of 16, the last partial one dropped
  EXPECT_EQ(card.at("training").at("options").at("train_fraction").to_number<double>(), 0.25);
}

TEST_F(Trainer, SquareRootClassWeightsAreTheRootsOfTheBalancedOnes) {
  std::map<std::string, std::vector<double>> weights;
  for (const char* name : {"auto", "sqrt", "none"}) {
    TrainOptions o = options(std::string("weights-") + name);
    o.epochs = 1;
    o.class_weights = parse_class_weighting(name);
    EXPECT_EQ(class_weighting_name(o.class_weights), name);
    const auto card = boost::json::parse(cxr::test::read_file(run(o).result.card_path)).as_object();
    for (const auto& w : card.at("training").at("class_weights").as_array())
      weights[name].push_back(w.to_number<double>());
  }
  ASSERT_EQ(weights["auto"].size(), 4u);
  ASSERT_NE(weights["auto"], weights["none"]);  // the random labels are unbalanced: the roots differ from 1
  for (std::size_t c = 0; c < 4; ++c) {
    EXPECT_DOUBLE_EQ(weights["sqrt"][c], std::sqrt(weights["auto"][c]));
    EXPECT_EQ(weights["none"][c], 1.0);
  }
  EXPECT_THROW(parse_class_weighting("inverse"), Error);
}

TEST_F(Trainer, StopsEarlyWhenValidationStopsImproving) {
  // Identical validation images get one prediction, so the macro-F1 can only be
  // 0 or 1/4 (the one class with support): at most one improvement after epoch 1,
  // and with patience 1 the run must stop by epoch 3 of 8.
  TrainOptions o = options("early");
  o.data_dir = *dir_ / "constant-val";
  write_synthetic_dataset(o.data_dir, 128, 16, 13, true);
  o.epochs = 8;
  o.patience = 1;
  o.lr = 1e-9;
  const Recorded r = run(o);
  EXPECT_EQ(r.result.stop, StopReason::early_stopping);
  EXPECT_GE(r.result.history.size(), 2u);
  EXPECT_LE(r.result.history.size(), 3u);
  EXPECT_FALSE(std::filesystem::exists(r.result.checkpoint_path));
}

TEST_F(Trainer, BadInputsAreClearErrors) {
  TrainOptions o = options("bad");
  o.data_dir = *dir_ / "no-such-dir";
  expect_error_mentioning([&] { train(o); }, {"no-such-dir", "does not exist"});
  o = options("bad");
  o.preset = "resnet";
  expect_error_mentioning([&] { train(o); }, {"unknown preset", "resnet"});
  o = options("bad");
  o.epochs = 0;
  expect_error_mentioning([&] { train(o); }, {"epochs"});
  o = options("bad");
  o.train_fraction = 0;
  expect_error_mentioning([&] { train(o); }, {"--train-fraction", "(0, 1]"});

  // A resume that would change the run, or train on other data.
  o = options("bad");
  std::atomic<bool> stop{true};
  const Recorded stopped = run(o, &stop);
  ASSERT_EQ(stopped.result.stop, StopReason::interrupted);
  TrainOptions other = o;
  other.resume = stopped.result.checkpoint_path;
  other.seed = 9;
  other.batch = 8;
  expect_error_mentioning([&] { train(other); }, {"cannot resume", "seed 9 (checkpoint: 0)", "batch 8"});
  other = o;
  other.resume = stopped.result.checkpoint_path;
  other.data_dir = *dir_ / "other-data";
  write_synthetic_dataset(other.data_dir, 64, 16, 12);
  expect_error_mentioning([&] { train(other); }, {"different dataset", "SHA-256"});
  other = o;
  other.resume = *dir_ / "bad" / "not-a-checkpoint.safetensors";
  save_safetensors(other.resume->string(), {{"x", Tensor::zeros({1})}});
  expect_error_mentioning([&] { train(other); }, {"not a CXR training checkpoint"});
}

}  // namespace
