#include "models/trainer.h"

#include "base/parallel.h"
#include "data/dataset.h"
#include "data/labels.h"
#include "data/loader.h"
#include "engine/autograd.h"
#include "engine/nn/layers.h"
#include "engine/ops.h"
#include "engine/optim/adamw.h"
#include "engine/optim/lr_schedule.h"
#include "engine/optim/sgd.h"
#include "engine/random.h"
#include "models/dataset_eval.h"
#include "models/dataset_settings.h"
#include "models/device_choice.h"
#include "models/inference.h"
#include "models/lung_view_dataset.h"
#include "models/metrics.h"
#include "models/model_card.h"
#include "models/model_file.h"
#include "models/presets.h"
#include "models/shortcut_report.h"
#include "models/teacher_probabilities.h"
#include "models/train_state.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <tuple>

namespace cxr {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double TrainOptions::learning_rate() const {
  return lr.value_or(optimizer == OptimizerKind::adamw ? 1e-3 : 0.05);
}

std::string optimizer_name(OptimizerKind kind) {
  return kind == OptimizerKind::adamw ? "adamw" : "sgd";
}

OptimizerKind parse_optimizer(const std::string& name) {
  if (name == "adamw") return OptimizerKind::adamw;
  if (name == "sgd") return OptimizerKind::sgd;
  throw Error(fmt::format("unknown optimizer '{}': expected adamw or sgd", name));
}

std::string class_weighting_name(ClassWeighting w) {
  switch (w) {
    case ClassWeighting::balanced: return "auto";
    case ClassWeighting::sqrt_balanced: return "sqrt";
    case ClassWeighting::none: return "none";
  }
  return "?";
}

ClassWeighting parse_class_weighting(const std::string& name) {
  if (name == "auto") return ClassWeighting::balanced;
  if (name == "sqrt") return ClassWeighting::sqrt_balanced;
  if (name == "none") return ClassWeighting::none;
  throw Error(fmt::format("unknown class weighting '{}': expected auto, sqrt or none", name));
}

std::string sample_balance_name(SampleBalance b) {
  return b == SampleBalance::source ? "source" : "none";
}

SampleBalance parse_sample_balance(const std::string& name) {
  if (name == "none") return SampleBalance::none;
  if (name == "source") return SampleBalance::source;
  throw Error(fmt::format("unknown sampling '{}': expected none or source", name));
}

std::string selection_name(Selection s) {
  return s == Selection::worst_cell ? "worst_cell" : s == Selection::last ? "last" : "macro_f1";
}

Selection parse_selection(const std::string& name) {
  if (name == "macro_f1") return Selection::macro_f1;
  if (name == "worst_cell") return Selection::worst_cell;
  if (name == "last") return Selection::last;
  throw Error(fmt::format("unknown selection '{}': expected macro_f1, worst_cell or last", name));
}

std::string stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::completed: return "completed";
    case StopReason::early_stopping: return "early_stopping";
    case StopReason::interrupted: return "interrupted";
    case StopReason::time_limit: return "time_limit";
  }
  return "?";
}

namespace {

// model.safetensors -> model<suffix>
fs::path sibling(const fs::path& out, const std::string& suffix) {
  fs::path p = out;
  if (p.extension() == ".safetensors") p.replace_extension();
  return p.string() + suffix;
}

}  // namespace

fs::path card_path_for(const fs::path& out) {
  return sibling(out, ".card.json");
}
fs::path checkpoint_path_for(const fs::path& out) {
  return sibling(out, ".checkpoint.safetensors");
}

namespace {

void check_options(const TrainOptions& o) {
  CXR_CHECK(!o.data_dir.empty(), "train: no data directory given");
  CXR_CHECK(fs::is_directory(o.data_dir), "train: data directory '{}' does not exist (build one with `cxr data build`)",
            o.data_dir.string());
  CXR_CHECK(!o.out.empty(), "train: no output model path given");
  CXR_CHECK(o.epochs > 0 && o.batch > 0, "train: epochs ({}) and batch ({}) must be positive", o.epochs, o.batch);
  CXR_CHECK(o.learning_rate() > 0, "train: the learning rate must be positive, got {}", o.learning_rate());
  CXR_CHECK(o.size == 0 || o.size >= 16, "train: --size must be at least 16 (or 0: the dataset's), got {}", o.size);
  CXR_CHECK(o.patience >= 0 && o.max_minutes >= 0 && o.workers >= 0,
            "train: patience, max minutes and workers must be non-negative");
  CXR_CHECK(o.width > 0 && o.weight_decay >= 0 && o.momentum >= 0,
            "train: width, weight decay and momentum out of range");
  CXR_CHECK(o.train_fraction > 0 && o.train_fraction <= 1, "train: --train-fraction must be in (0, 1], got {}",
            o.train_fraction);
  CXR_CHECK(!o.extra_data || fs::is_directory(*o.extra_data), "train: extra data directory '{}' does not exist",
            o.extra_data ? o.extra_data->string() : "");
  CXR_CHECK(o.unfreeze == Unfreeze::all || o.init_model,
            "train: freezing layers needs a trained model to start from (init model)");
  CXR_CHECK(o.adversary >= 0, "train: the adversary weight must be non-negative, got {}", o.adversary);
  CXR_CHECK(o.adversary == 0 || o.unfreeze == Unfreeze::all,
            "train: the source adversary trains the whole feature extractor (unfreeze all)");
  CXR_CHECK(!o.distill_from || fs::is_regular_file(*o.distill_from), "train: teacher probabilities '{}' do not exist",
            o.distill_from ? o.distill_from->string() : "");
  CXR_CHECK(!o.distill_from || !o.extra_data,
            "train: teacher probabilities name the images of one dataset; --extra-data cannot be distilled");
}

// A seeded share of the train split's patients, taken per target (a patient counts
// for the target of their first image) so that the class mix stays as it was; every
// image of a kept patient is kept. At least one patient per class.
std::vector<std::int64_t> patient_subset(const data::Dataset& ds, const std::vector<std::int64_t>& train,
                                         double fraction, std::uint64_t seed) {
  std::map<std::string, int> class_of_patient;
  std::vector<std::vector<std::string>> patients(data::num_targets(ds.num_classes()));
  for (auto i : train)
    if (class_of_patient.emplace(ds.row(i).patient, ds.label(i)).second)
      patients[ds.label(i)].push_back(ds.row(i).patient);
  Generator gen(seed ^ 0x7261696e66726163ULL);  // its own stream: the loader's order is unchanged
  std::set<std::string> kept;
  for (auto& list : patients) {
    shuffle(list, gen);
    const auto n = std::min(list.size(), std::max<std::size_t>(1, std::llround(fraction * list.size())));
    kept.insert(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(n));
  }
  std::vector<std::int64_t> out;
  for (auto i : train)
    if (kept.count(ds.row(i).patient) > 0) out.push_back(i);
  return out;
}

// A resume must train the same model on the same data the same way; where the
// run goes (out), how long it may take and how patient it is may change.
void check_resumable(const TrainOptions& now, const TrainOptions& saved, const std::string& path) {
  std::vector<std::string> diffs;
  auto cmp = [&](const char* name, const auto& a, const auto& b) {
    if (a != b) diffs.push_back(fmt::format("{} {} (checkpoint: {})", name, a, b));
  };
  cmp("preset", now.preset, saved.preset);
  cmp("epochs", now.epochs, saved.epochs);
  cmp("batch", now.batch, saved.batch);
  cmp("lr", now.learning_rate(), saved.learning_rate());
  cmp("optimizer", optimizer_name(now.optimizer), optimizer_name(saved.optimizer));
  cmp("class weights", class_weighting_name(now.class_weights), class_weighting_name(saved.class_weights));
  cmp("augment", now.augment, saved.augment);
  cmp("seed", now.seed, saved.seed);
  cmp("size", now.size, saved.size);
  cmp("weight decay", now.weight_decay, saved.weight_decay);
  cmp("momentum", now.momentum, saved.momentum);
  cmp("train fraction", now.train_fraction, saved.train_fraction);
  cmp("width", now.width, saved.width);
  cmp("init model", now.init_model.value_or("").string(), saved.init_model.value_or("").string());
  cmp("unfreeze", unfreeze_name(now.unfreeze), unfreeze_name(saved.unfreeze));
  cmp("extra data", now.extra_data.value_or("").string(), saved.extra_data.value_or("").string());
  cmp("balance", sample_balance_name(now.balance), sample_balance_name(saved.balance));
  cmp("strong augment", now.strong_augment, saved.strong_augment);
  cmp("adversary", now.adversary, saved.adversary);
  cmp("select", selection_name(now.select), selection_name(saved.select));
  cmp("distill from", now.distill_from.value_or("").string(), saved.distill_from.value_or("").string());
  if (diffs.empty()) return;
  std::string message = fmt::format("train: cannot resume from '{}' with different settings:", path);
  for (const auto& d : diffs) message += "\n  " + d;
  throw Error(message);
}

// The optimizer behind one interface, with its state as named tensors.
class Optimizer {
 public:
  Optimizer(ParameterSet& params, const TrainOptions& o, std::int64_t first_trainable) {
    if (o.optimizer == OptimizerKind::adamw)
      adamw_ = std::make_unique<AdamW>(params, AdamWOptions{o.learning_rate(), 0.9, 0.999, 1e-8, o.weight_decay},
                                       first_trainable);
    else
      sgd_ = std::make_unique<SGD>(params, SGDOptions{o.learning_rate(), o.momentum, 0.0, o.weight_decay, true},
                                   first_trainable);
  }
  void step(double lr) {
    if (adamw_) {
      adamw_->set_lr(lr);
      adamw_->step();
    } else {
      sgd_->set_lr(lr);
      sgd_->step();
    }
  }
  std::int64_t steps() const { return adamw_ ? adamw_->steps() : sgd_->steps(); }
  void set_steps(std::int64_t n) {
    if (adamw_)
      adamw_->set_steps(n);
    else
      sgd_->set_steps(n);
  }
  std::vector<std::pair<std::string, Tensor>> state() const {
    if (adamw_) return {{"optimizer.exp_avg", adamw_->exp_avg()}, {"optimizer.exp_avg_sq", adamw_->exp_avg_sq()}};
    return {{"optimizer.momentum_buffer", sgd_->momentum_buffer()}};
  }

 private:
  std::unique_ptr<AdamW> adamw_;
  std::unique_ptr<SGD> sgd_;
};

// w_c = N / (C n_c) over the train split, or its square root (classes without images
// get 0). An image of a label set counts 1/|set| towards each of its classes.
std::vector<double> class_weights_of(ClassWeighting weighting, const data::Dataset& ds,
                                     const std::vector<std::int64_t>& train) {
  const int classes = ds.num_classes();
  if (weighting == ClassWeighting::none) return std::vector<double>(classes, 1.0);
  std::vector<double> counts(classes, 0.0);
  for (auto i : train) {
    const std::uint32_t set = data::target_classes(ds.label(i), classes);
    for (int c = 0; c < classes; ++c)
      if (set & (1u << c)) counts[c] += 1.0 / std::popcount(set);
  }
  std::vector<double> w(counts.size(), 0.0);
  for (std::size_t c = 0; c < counts.size(); ++c)
    if (counts[c] > 0) w[c] = static_cast<double>(train.size()) / (static_cast<double>(counts.size()) * counts[c]);
  if (weighting == ClassWeighting::sqrt_balanced)
    for (double& x : w) x = std::sqrt(x);
  return w;
}

// Per-image sampling weights for SampleBalance::source (see trainer.h): target t has
// groups g (source x age group) of n_g images; an image of group g in target t is
// drawn with weight sqrt(n_g) / sum_g' sqrt(n_g') / n_g / targets.
std::vector<double> source_balanced_weights(const data::Dataset& ds, const std::vector<std::int64_t>& train) {
  using Group = std::tuple<int, data::Source, data::AgeGroup>;
  std::map<Group, std::int64_t> sizes;
  for (auto i : train) ++sizes[{ds.label(i), ds.row(i).source, ds.row(i).age_group}];
  std::map<int, double> root_sum;  // per target
  for (const auto& [g, n] : sizes) root_sum[std::get<0>(g)] += std::sqrt(static_cast<double>(n));
  std::vector<double> weights;
  for (auto i : train) {
    const Group g{ds.label(i), ds.row(i).source, ds.row(i).age_group};
    const double n = static_cast<double>(sizes.at(g));
    weights.push_back(std::sqrt(n) / root_sum.at(std::get<0>(g)) / n / static_cast<double>(root_sum.size()));
  }
  return weights;
}

// The classifier of image sources behind the gradient reversal (TrainOptions::adversary):
// pooled features -> 64 hidden units -> one logit per source.
class SourceAdversary : public Module {
 public:
  explicit SourceAdversary(int features)
      : hidden_(add_module("hidden", std::make_unique<Linear>(features, 64))),
        out_(add_module("out", std::make_unique<Linear>(64, data::kNumSources))) {}
  Tensor forward(const Tensor& pooled) const { return out_.forward(relu(hidden_.forward(pooled))); }

 private:
  Linear& hidden_;
  Linear& out_;
};

// The adversary's targets: an image's own source, or every source for COVID-19 (a full
// set has probability 1: no loss and no gradient, so those images teach it nothing).
std::vector<std::uint32_t> source_masks(const data::Dataset& ds, const std::vector<std::int64_t>& indices, int covid) {
  std::vector<std::uint32_t> masks;
  for (auto i : indices)
    masks.push_back(ds.label(i) == covid ? (1u << data::kNumSources) - 1 : 1u << static_cast<int>(ds.row(i).source));
  return masks;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

class Run {
 public:
  Run(const TrainOptions& options, const std::atomic<bool>* stop, const TrainCallbacks& callbacks)
      : stop_(stop), cb_(callbacks) {
    check_options(options);
    std::optional<TrainCheckpoint> resumed;
    if (options.resume) {
      resumed = load_train_checkpoint(options.resume->string());
      check_resumable(options, resumed->state.options, options.resume->string());
    }
    s_.options = options;
    s_.options.resume.reset();
    device_ = resolve_device(options.device);
    s_.options.device = device_.str();
    const TrainOptions& o = s_.options;

    ds_ = data::Dataset::open(o.data_dir);
    if (o.extra_data) ds_ = data::Dataset::concat(ds_, data::Dataset::open(*o.extra_data));
    s_.manifest_sha256 = ds_.manifest_sha256();
    s_.threads = num_threads();
    git_commit_ = build_commit();
    if (resumed)
      CXR_CHECK(resumed->state.manifest_sha256 == s_.manifest_sha256,
                "train: '{}' holds a different dataset than the checkpoint was trained on (manifest SHA-256 {} vs {})",
                o.data_dir.string(), s_.manifest_sha256, resumed->state.manifest_sha256);
    train_idx_ = ds_.indices(data::Split::train);
    if (o.train_fraction < 1.0) train_idx_ = patient_subset(ds_, train_idx_, o.train_fraction, o.seed);
    const auto val_idx = ds_.indices(data::Split::val);
    CXR_CHECK(!train_idx_.empty() && !val_idx.empty(), "train: '{}' needs train and validation images ({} and {})",
              o.data_dir.string(), train_idx_.size(), val_idx.size());
    if (o.distill_from) {
      teacher_ = TeacherProbabilities::read(*o.distill_from, ds_.class_names());
      teacher_->check_covers(ds_, train_idx_);
    }

    if (o.init_model) {
      init_from_model(o);
    } else {
      size_ = o.size > 0 ? o.size : ds_.image_size();
      NetConfig config = preset_config(o.preset, ds_.num_classes(), size_);
      if (o.width != 1.0) config = config.narrowed(o.width);
      info_.preset = o.preset;
      info_.config = config;
      info_.class_names = ds_.class_names();
      info_.mean = ds_.mean();
      info_.stddev = ds_.stddev();
      // Inference must fit and resize an image exactly as this dataset did (models/inference.h).
      info_.fit = ds_.fit();
      info_.dataset_size = ds_.image_size();
      net_ = make_net(config, o.seed + 1);
      params_ = std::make_unique<ParameterSet>(*net_, o.seed);
    }
    info_.split_seed = dataset_split_seed(o.data_dir);  // a fine-tune's too: the data it trained on
    // The lung view the images were cut to (models/lung_view_dataset.h): prediction must cut alike.
    for (const auto& [key, value] : dataset_lung_view_metadata(o.data_dir)) info_.extra[key] = value;
    if (info_.extra.contains("lung_view")) lung_segmenter_ = o.data_dir / kLungModelFile;
    params_->to(device_);  // before the optimizer: its state is made where the parameters are
    last_frozen_ = net_->last_frozen_layer(o.unfreeze);
    first_trainable_ = net_->first_trainable_offset(*params_, o.unfreeze);
    opt_ = std::make_unique<Optimizer>(*params_, o, first_trainable_);
    covid_ = data::class_index("covid", ds_.num_classes()).value_or(-1);
    if (o.adversary > 0) {
      adversary_ = std::make_unique<SourceAdversary>(info_.config.feature_channels());
      adversary_params_ = std::make_unique<ParameterSet>(*adversary_, o.seed + 2);
      adversary_params_->to(device_);
      adversary_opt_ = std::make_unique<Optimizer>(*adversary_params_, o, 0);
    }

    data::LoaderOptions lo;
    lo.batch_size = o.batch;
    lo.workers = o.workers;
    lo.seed = o.seed;
    lo.device = device_;   // on the GPU the workers upload uint8 pixels and augment there
    lo.mean = info_.mean;  // the dataset's statistics, or the fine-tuned model's normalisation
    lo.stddev = info_.stddev;
    lo.drop_last = static_cast<std::int64_t>(train_idx_.size()) >= o.batch;  // no tiny last batch for batch norm
    if (o.augment) lo.augment = o.strong_augment ? data::strong_augment() : data::AugmentOptions{};
    if (o.balance == SampleBalance::source) lo.sample_weights = source_balanced_weights(ds_, train_idx_);
    train_loader_ = std::make_unique<data::Loader>(ds_, train_idx_, lo);
    lo.shuffle = false;
    lo.drop_last = false;
    lo.augment.reset();
    lo.sample_weights.clear();
    val_loader_ = std::make_unique<data::Loader>(ds_, val_idx, lo);

    class_weights_ = class_weights_of(o.class_weights, ds_, train_idx_);
    weight_tensor_ =
        Tensor::from_vector(class_weights_, {static_cast<std::int64_t>(class_weights_.size())}, DType::F32).to(device_);
    const std::int64_t total_steps = o.epochs * train_loader_->batches_per_epoch();
    schedule_ = CosineWarmupSchedule{o.learning_rate(), std::max<std::int64_t>(1, total_steps / 20),
                                     std::max<std::int64_t>(2, total_steps), o.learning_rate() * 0.01};
    if (resumed) restore(*resumed, options.resume->string());

    plan_.train_images = static_cast<std::int64_t>(train_idx_.size());
    plan_.val_images = static_cast<std::int64_t>(val_idx.size());
    plan_.batches_per_epoch = train_loader_->batches_per_epoch();
    plan_.parameters = params_->count();
    plan_.trainable_parameters = params_->count() - first_trainable_;
    plan_.input_size = size_;
    plan_.threads = s_.threads;
    plan_.device = device_.str();
    plan_.class_names = info_.class_names;
    plan_.class_weights = class_weights_;
    plan_.lr = o.learning_rate();
    plan_.start_epoch = static_cast<int>(s_.epoch);
    plan_.start_batch = s_.batch;
  }

  TrainResult run() {
    if (cb_.on_start) cb_.on_start(plan_);
    const TrainOptions& o = s_.options;
    session_start_ = Clock::now();
    StopReason reason = StopReason::completed;
    while (s_.epoch < o.epochs) {
      if (auto r = train_epoch()) return finish(*r);
      EpochRecord record;
      if (auto r = validate(record)) return finish(*r);
      const double score = selection_score(record);
      const bool best = score > s_.best_macro_f1;
      s_.history.push_back(record);
      if (best) {
        s_.best_macro_f1 = score;
        s_.best_epoch = record.epoch;
        s_.bad_epochs = 0;
        save_model(o.out.string(), *net_, info_);
        // Its lung segmenter beside it, where load_model looks (models/lung_view.h).
        if (!lung_segmenter_.empty())
          fs::copy_file(lung_segmenter_, lung_segmenter_path_for(o.out), fs::copy_options::overwrite_existing);
      } else {
        ++s_.bad_epochs;
      }
      ++s_.epoch;
      s_.batch = 0;
      s_.epoch_loss_sum = 0;
      s_.epoch_batches = 0;
      s_.epoch_train_seconds = 0;
      s_.epoch_images = 0;
      epoch_source_loss_sum_ = 0;
      if (cb_.on_epoch) cb_.on_epoch(record, best);
      if (o.patience > 0 && s_.bad_epochs >= o.patience && s_.epoch < o.epochs) {
        reason = StopReason::early_stopping;
        break;
      }
      if (s_.epoch < o.epochs) {
        if (auto r = should_stop()) return finish(*r);
        save_checkpoint();  // a crash loses at most one epoch
      }
    }
    return finish(reason);
  }

 private:
  // What `select` keeps the best of; a run without a large enough cell falls back
  // to macro-F1 (so early epochs of tiny test sets still save a model).
  double selection_score(const EpochRecord& r) const {
    if (s_.options.select == Selection::last) return r.epoch;  // every epoch beats the one before
    if (s_.options.select == Selection::worst_cell && !std::isnan(r.val_worst_cell_f1)) return r.val_worst_cell_f1;
    return r.val_macro_f1;
  }

  std::vector<std::uint32_t> target_masks(const std::vector<int>& targets) const {
    std::vector<std::uint32_t> masks;
    for (int t : targets) masks.push_back(data::target_classes(t, ds_.num_classes()));
    return masks;
  }

  // The gradient reversal factor at the current step (Ganin & Lempitsky 2015, eq. 14).
  double adversary_lambda() const {
    const double total = static_cast<double>(s_.options.epochs * train_loader_->batches_per_epoch());
    const double p = std::min(1.0, static_cast<double>(s_.step) / total);
    return s_.options.adversary * (2.0 / (1.0 + std::exp(-10.0 * p)) - 1.0);
  }

  // The class loss of a batch: the label-set cross-entropy, or with a teacher the
  // cross-entropy against its probabilities (distillation).
  Tensor class_loss(const Tensor& logits, const data::Batch& batch) const {
    if (teacher_) return soft_target_cross_entropy(logits, teacher_->targets(ds_, batch.indices, device_));
    return label_set_cross_entropy(logits, target_masks(batch.labels), weight_tensor_);
  }

  // The loss of a training step: the class loss, plus, with an adversary, its source
  // loss through the gradient reversal (which trains the adversary to tell the sources
  // apart and the features to hide them).
  Tensor step_loss(const data::Batch& batch) {
    const Tensor x = input(batch.images);
    if (!adversary_) return class_loss(forward_train(x), batch);
    const Tensor features = net_->features(x);
    const Tensor loss = class_loss(net_->head(features), batch);
    const Tensor reversed = gradient_reversal(global_avg_pool2d(features), adversary_lambda());
    const Tensor source_loss =
        label_set_cross_entropy(adversary_->forward(reversed), source_masks(ds_, batch.indices, covid_));
    epoch_source_loss_sum_ += source_loss.to(Device::cpu()).item();
    return add(loss, source_loss);
  }

  std::optional<StopReason> should_stop() const {
    if (stop_ != nullptr && stop_->load()) return StopReason::interrupted;
    if (s_.options.max_minutes > 0 && seconds_since(session_start_) > 60 * s_.options.max_minutes)
      return StopReason::time_limit;
    return std::nullopt;
  }

  // The network, architecture, classes, normalisation and fit of the model to
  // fine-tune, with its weights; dropout and the (unused) initialisation from the seed.
  void init_from_model(const TrainOptions& o) {
    const std::string path = o.init_model->string();
    LoadedModel init = load_model(path);
    check_dataset_matches_model(ds_, init.info, o.data_dir.string(), path);
    CXR_CHECK(ds_.fit() == init.info.fit_or_pad(), "train: {} fits images by {} but {} was trained on {}-fitted ones",
              o.data_dir.string(), data::fit_name(ds_.fit()), path, data::fit_name(init.info.fit_or_pad()));
    info_ = init.info;
    size_ = info_.config.input_size;
    net_ = make_net(info_.config, o.seed + 1);
    params_ = std::make_unique<ParameterSet>(*net_, o.seed);
    params_->values().copy_(init.params->values());
    params_->buffer_values().copy_(init.params->buffer_values());
  }

  // The logits of a training step. Frozen layers run as at inference (evaluation
  // mode, no graph): their weights and batch-norm statistics stay as they are.
  Tensor forward_train(const Tensor& x) {
    if (last_frozen_.empty()) return net_->forward(x);
    Tensor h;
    {
      net_->eval();
      NoGradGuard no_grad;
      h = net_->forward_until(x, last_frozen_);
    }
    net_->train();
    return net_->forward_after(h, last_frozen_);
  }

  // Batches come from the loaders on the run's device.
  Tensor input(const Tensor& images) const {
    if (images.size(2) == size_ && images.size(3) == size_) return images;
    return resize_bilinear(images, size_, size_);
  }

  // Trains the rest of the current epoch; a stop reason when stopped inside it.
  std::optional<StopReason> train_epoch() {
    const std::int64_t batches = train_loader_->batches_per_epoch();
    train_loader_->start_epoch(s_.epoch, s_.batch);
    net_->train();
    auto t = Clock::now();
    while (auto batch = train_loader_->next()) {
      params_->zero_grad();
      if (adversary_) adversary_params_->zero_grad();
      Tensor loss = step_loss(*batch);
      loss.backward();
      last_lr_ = schedule_.lr_at(s_.step);
      const Tensor seen = cb_.before_update || cb_.after_update ? input(batch->images) : Tensor();
      UpdateView update{*net_, *params_, seen, first_trainable_, s_.step + 1, static_cast<int>(s_.epoch) + 1};
      if (cb_.before_update) cb_.before_update(update);
      opt_->step(last_lr_);
      if (adversary_) adversary_opt_->step(last_lr_);
      const double value = loss.to(Device::cpu()).item();
      const double dt = seconds_since(t);
      t = Clock::now();
      const auto n = static_cast<std::int64_t>(batch->labels.size());
      ++s_.batch;
      ++s_.step;
      s_.epoch_loss_sum += value;
      ++s_.epoch_batches;
      s_.epoch_train_seconds += dt;
      s_.epoch_images += n;
      s_.train_seconds += dt;
      s_.train_images += n;
      session_train_seconds_ += dt;
      session_images_ += n;
      if (cb_.after_update) {
        update.lr = last_lr_;
        update.loss = value;
        cb_.after_update(update);
      }
      if (cb_.on_step) {
        StepReport r;
        r.epoch = static_cast<int>(s_.epoch) + 1;
        r.epochs = s_.options.epochs;
        r.batch = s_.batch;
        r.batches = batches;
        r.step = s_.step;
        r.loss = value;
        r.lr = last_lr_;
        r.images_per_second = session_images_ / session_train_seconds_;
        const std::int64_t steps_left = s_.options.epochs * batches - s_.step;
        r.eta_seconds = steps_left * session_train_seconds_ / static_cast<double>(session_images_) * s_.options.batch;
        cb_.on_step(r);
      }
      if (auto r = should_stop()) return r;
    }
    return std::nullopt;
  }

  std::optional<StopReason> validate(EpochRecord& record) {
    net_->eval();
    NoGradGuard no_grad;
    val_loader_->start_epoch(0);
    std::vector<int> labels;
    std::vector<double> probabilities;
    std::vector<ImageOrigin> origins;
    double loss_sum = 0;
    while (auto batch = val_loader_->next()) {
      const Tensor logits = net_->forward(input(batch->images)).to(Device::cpu());
      const auto n = static_cast<std::int64_t>(batch->labels.size());
      loss_sum += label_set_cross_entropy(logits, target_masks(batch->labels)).item() * static_cast<double>(n);
      const Tensor p = softmax(logits).to(DType::F64).contiguous();
      probabilities.insert(probabilities.end(), p.data<double>(), p.data<double>() + p.numel());
      for (std::int64_t j = 0; j < n; ++j) {
        const auto& row = ds_.row(batch->indices[j]);
        origins.push_back({row.source, row.age_group, batch->labels[j]});
      }
      labels.insert(labels.end(), batch->labels.begin(), batch->labels.end());
      if (auto r = should_stop()) return r;
    }
    const ClassificationReport report = classification_report(probabilities, labels, info_.class_names);
    const ShortcutReport cells = shortcut_report(probabilities, origins, ds_.num_classes());
    record.epoch = static_cast<int>(s_.epoch) + 1;
    record.lr = last_lr_;
    record.train_loss = s_.epoch_batches > 0 ? s_.epoch_loss_sum / static_cast<double>(s_.epoch_batches) : 0.0;
    record.train_source_loss =
        adversary_ && s_.epoch_batches > 0 ? epoch_source_loss_sum_ / static_cast<double>(s_.epoch_batches) : 0.0;
    record.val_loss = loss_sum / static_cast<double>(labels.size());
    record.val_accuracy = report.accuracy;
    record.val_macro_f1 = report.macro_f1;
    record.val_worst_cell_f1 = cells.worst_cell_macro_f1;
    record.val_worst_cell = cells.worst_cell;
    for (const auto& c : report.classes) record.val_f1.push_back(c.f1);
    record.train_seconds = s_.epoch_train_seconds;
    record.images_per_second = s_.epoch_train_seconds > 0 ? s_.epoch_images / s_.epoch_train_seconds : 0.0;
    return std::nullopt;
  }

  std::vector<std::pair<std::string, Tensor>> state_tensors() const {
    std::vector<std::pair<std::string, Tensor>> t{{"model.values", params_->values()},
                                                  {"model.buffers", params_->buffer_values()}};
    for (auto& p : opt_->state()) t.push_back(std::move(p));
    if (adversary_) {
      t.emplace_back("adversary.values", adversary_params_->values());
      for (auto& [name, tensor] : adversary_opt_->state()) t.emplace_back("adversary." + name, tensor);
    }
    return t;
  }

  void save_checkpoint() {
    s_.dropout_state = net_->dropout_generator().state();
    std::vector<std::pair<std::string, Tensor>> on_host;
    for (auto& [name, t] : state_tensors()) on_host.emplace_back(name, t.to(Device::cpu()));
    save_train_checkpoint(checkpoint_path_for(s_.options.out).string(), s_, on_host);
  }

  void restore(const TrainCheckpoint& c, const std::string& path) {
    const TrainOptions now = s_.options;
    s_ = c.state;
    plan_.checkpoint_threads = c.state.threads;
    // What may change on resume comes from this session.
    s_.options.out = now.out;
    s_.options.data_dir = now.data_dir;
    s_.options.patience = now.patience;
    s_.options.max_minutes = now.max_minutes;
    s_.options.workers = now.workers;
    s_.options.device = now.device;
    s_.threads = num_threads();
    for (auto& [name, dst] : state_tensors()) {
      auto it = c.tensors.find(name);
      CXR_CHECK(it != c.tensors.end() && it->second.shape() == dst.shape(),
                "train: checkpoint '{}': tensor '{}' is missing or has the wrong shape for this model", path, name);
      Tensor target = dst;
      target.copy_(it->second.to(target.device()));
    }
    opt_->set_steps(s_.step);
    if (adversary_opt_) adversary_opt_->set_steps(s_.step);  // it steps with the classifier
    net_->dropout_generator().set_state(s_.dropout_state);
    CXR_CHECK(s_.epoch >= 0 && s_.batch >= 0 && s_.batch <= train_loader_->batches_per_epoch(),
              "train: checkpoint '{}': position epoch {} batch {} does not fit this run", path, s_.epoch, s_.batch);
    last_lr_ = s_.step > 0 ? schedule_.lr_at(s_.step - 1) : 0.0;
  }

  // The saved (best) model's validation split by source x age group, for the card:
  // the model in memory is the last epoch's, so the file is read back.
  boost::json::object saved_model_validation_cells() const {
    LoadedModel saved = load_model(s_.options.out.string());
    const std::vector<std::int64_t> val = ds_.indices(data::Split::val);
    return shortcut_report_to_json(evaluate_on_dataset(*saved.net, saved.info, ds_, val).by_source_and_age);
  }

  void write_card(StopReason reason) const {
    ModelCard card;
    card.model_path = s_.options.out;
    card.info = info_;
    card.parameters = params_->count();
    card.data_dir = s_.options.data_dir;
    card.manifest_sha256 = s_.manifest_sha256;
    card.count_names = data::target_names(ds_.num_classes());
    for (data::Split split : data::kSplits) {
      std::vector<std::int64_t> counts(card.count_names.size(), 0);
      // The train counts are the images trained on (a --train-fraction subset).
      for (auto i : split == data::Split::train ? train_idx_ : ds_.indices(split)) ++counts[ds_.label(i)];
      card.split_counts[std::string(data::split_name(split))] = counts;
    }
    card.options = s_.options;
    card.threads = s_.threads;
    card.class_weights = class_weights_;
    card.git_commit = git_commit_;
    card.result = result(reason);
    card.validation_by_source_and_age = saved_model_validation_cells();
    write_model_card(card_path_for(s_.options.out), card);
  }

  TrainResult result(StopReason reason) const {
    TrainResult r;
    r.history = s_.history;
    r.best_epoch = s_.best_epoch;
    r.stop = reason;
    r.steps = s_.step;
    r.train_seconds = s_.train_seconds;
    r.images_per_second = s_.train_seconds > 0 ? s_.train_images / s_.train_seconds : 0.0;
    r.model_path = s_.options.out;
    r.card_path = card_path_for(s_.options.out);
    r.checkpoint_path = checkpoint_path_for(s_.options.out);
    return r;
  }

  TrainResult finish(StopReason reason) {
    const bool resumable = reason == StopReason::interrupted || reason == StopReason::time_limit;
    if (resumable) {
      save_checkpoint();
    } else {
      std::error_code ec;
      fs::remove(checkpoint_path_for(s_.options.out), ec);
    }
    if (s_.best_epoch > 0) write_card(reason);
    return result(reason);
  }

  TrainState s_;
  const std::atomic<bool>* stop_;
  TrainCallbacks cb_;
  data::Dataset ds_;
  std::vector<std::int64_t> train_idx_;
  int size_ = 0;
  ModelInfo info_;
  fs::path lung_segmenter_;  // of a lung-view dataset: copied beside every saved model
  Device device_;
  std::unique_ptr<ClassifierNet> net_;
  std::unique_ptr<ParameterSet> params_;
  std::int64_t first_trainable_ = 0;
  std::unique_ptr<Optimizer> opt_;
  int covid_ = -1;                              // the covid class, -1 when the scheme has none
  std::unique_ptr<SourceAdversary> adversary_;  // TrainOptions::adversary > 0
  std::unique_ptr<ParameterSet> adversary_params_;
  std::unique_ptr<Optimizer> adversary_opt_;
  std::optional<TeacherProbabilities> teacher_;  // TrainOptions::distill_from
  double epoch_source_loss_sum_ = 0;             // not checkpointed: a resumed epoch reports its own part
  std::string last_frozen_;                      // "": every layer trains
  std::unique_ptr<data::Loader> train_loader_, val_loader_;
  std::vector<double> class_weights_;
  std::string git_commit_;
  Tensor weight_tensor_;
  CosineWarmupSchedule schedule_{1, 0, 1, 0};
  double last_lr_ = 0;
  TrainPlan plan_;
  Clock::time_point session_start_;
  double session_train_seconds_ = 0;
  std::int64_t session_images_ = 0;
};

}  // namespace

TrainResult train(const TrainOptions& options, const std::atomic<bool>* stop, const TrainCallbacks& callbacks) {
  Run run(options, stop, callbacks);
  return run.run();
}

}  // namespace cxr
