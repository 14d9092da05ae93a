// `cxr train`: trains a preset network on a built dataset directory
// (data/build.h) and keeps the best model by validation macro-F1 (or by its
// worst source x age group cell, `select`).
//
// One run: AdamW (or SGD with Nesterov momentum) under a linear warm-up + cosine
// learning rate, cross-entropy with inverse-frequency class weights ("auto":
// w_c = N / (C n_c) over the train split), seeded augmentation, validation after
// every epoch. Images labelled with a label set (NIH "pneumonia": bacterial or
// viral) train on -log of the probability of the set (label_set_cross_entropy) and
// count 1/|set| towards each of its classes in the class weights. Whenever the validation macro-F1 improves, the model
// file `out` is rewritten; after `patience` epochs without improvement training stops early.
//
// Files next to `out` (model.safetensors):
//   model.card.json           the model card (models/model_card.h), after every epoch
//   model.checkpoint.safetensors
//                             the resumable state (models/train_state.h), after every
//                             epoch and when stopped by the stop flag (Ctrl-C) or the
//                             time limit; removed when the run ends normally
//
// Determinism: every random choice derives from the seed (initialisation, dropout,
// order, augmentation), so with the same thread count a run is reproducible bit
// for bit, and a run resumed from a checkpoint continues exactly as the
// uninterrupted one would have (same losses, same weights). With --device cuda the
// steps run on the GPU: the loader uploads uint8 pixels and augments there with the
// same parameters, and the loss comes back each step. The GPU kernels reduce in a
// fixed order, so a GPU run repeats on the same GPU model, and it follows the CPU
// run to float tolerance, not bit for bit.
//
// Fine-tuning (the web app's jobs): `init_model` starts from a model file's weights,
// with its architecture, classes, normalisation and fit (preset, width and size are
// then unused); `unfreeze` says which layers train. The frozen layers run as at
// inference (evaluation mode, no graph), so their weights and batch-norm statistics
// stay exactly as they were and no gradient is computed for them; the optimizer
// updates only the parameters after them (one contiguous tail of the flat buffer).
// `extra_data` adds a second dataset directory (its train images are trained on,
// its validation images validated; test images are never trained on).
#pragma once

#include "models/classifier_net.h"

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace cxr {

enum class OptimizerKind { adamw, sgd };

// How the cross-entropy weighs classes: balanced is N / (C n_c) over the train
// split; sqrt_balanced its square root (a softer push towards rare classes, which
// trades some of their recall for precision); none weighs every class 1.
enum class ClassWeighting { balanced, sqrt_balanced, none };

// How the loader draws a training epoch: every image once in a shuffled order
// (none), or, against the source shortcut, with replacement so that every target
// is equally likely and, within a target, each (source, age group) gets a share
// proportional to the square root of its image count (source): the one COVID-19
// hospital and the one pediatric set no longer dominate what a class looks like,
// without repeating a handful of images hundreds of times.
enum class SampleBalance { none, source };
std::string sample_balance_name(SampleBalance b);             // "none", "source"
SampleBalance parse_sample_balance(const std::string& name);  // throws on anything else

// Which epoch's model is kept: the best validation macro-F1, or the best worst
// (source, age group) cell of validation macro-F1 (models/shortcut_report.h), which
// punishes a model that is right on average and wrong on one population; or the last
// epoch (a model meant to fit its training set, e.g. on permuted labels for the
// label-randomisation check of the explanations, where validation says nothing).
enum class Selection { macro_f1, worst_cell, last };
std::string selection_name(Selection s);             // "macro_f1", "worst_cell", "last"
Selection parse_selection(const std::string& name);  // throws on anything else

struct TrainOptions {
  std::filesystem::path data_dir;
  std::string preset = "cxr-small";
  std::filesystem::path out;  // the best model (safetensors)
  int epochs = 10;
  int batch = 32;
  std::optional<double> lr;  // nothing: 1e-3 for AdamW, 0.05 for SGD
  OptimizerKind optimizer = OptimizerKind::adamw;
  ClassWeighting class_weights = ClassWeighting::balanced;
  bool augment = true;
  std::uint64_t seed = 0;
  int size = 0;                                     // input side; 0: the dataset's image size
  int patience = 5;                                 // epochs without a better val macro-F1; 0: never stop early
  double max_minutes = 0;                           // stop (resumably) after this long; 0: no limit
  double weight_decay = 1e-4;                       // decoupled for AdamW, L2 for SGD
  double momentum = 0.9;                            // SGD only
  double width = 1.0;                               // channel multiplier of the preset (small nets for tests)
  double train_fraction = 1.0;                      // share of the train split's patients used (learning curves)
  int workers = 2;                                  // loader threads preparing batches
  std::string device = "cpu";                       // cpu, cuda or auto (models/device_choice.h); may change on resume
  std::optional<std::filesystem::path> resume;      // a checkpoint to continue from
  std::optional<std::filesystem::path> init_model;  // fine-tune: start from this model file
  Unfreeze unfreeze = Unfreeze::all;                // fine-tune: the layers that train (needs init_model)
  std::optional<std::filesystem::path> extra_data;  // a second dataset directory, same size and classes
  SampleBalance balance = SampleBalance::none;
  bool strong_augment = false;  // the source-cue photometric preset (engine/data/augment.h)
  // Domain-adversarial training (Ganin & Lempitsky 2015): a source classifier on the
  // pooled features behind a gradient-reversal op whose factor ramps from 0 to this
  // value (2 / (1 + exp(-10 p)) - 1 of it at progress p); 0: off. The source head sees
  // the non-COVID-19 images only (every COVID-19 image is from one source, so there
  // the source is the label): the features are pushed to forget the hospital and
  // the age group where both vary within a class, not to forget COVID-19.
  double adversary = 0;
  Selection select = Selection::macro_f1;
  // Knowledge distillation: train toward these per-image class probabilities (a CSV,
  // models/teacher_probabilities.h) with soft_target_cross_entropy instead of the
  // labels; class weights do not apply. Validation and the kept epoch are unchanged.
  std::optional<std::filesystem::path> distill_from;

  double learning_rate() const;
};

std::string optimizer_name(OptimizerKind kind);
std::string class_weighting_name(ClassWeighting w);             // "auto", "sqrt", "none"
ClassWeighting parse_class_weighting(const std::string& name);  // throws on anything else
OptimizerKind parse_optimizer(const std::string& name);         // "adamw" | "sgd"

// The files a run writes next to `out`.
std::filesystem::path card_path_for(const std::filesystem::path& out);
std::filesystem::path checkpoint_path_for(const std::filesystem::path& out);

struct EpochRecord {
  int epoch = 0;          // 1-based
  double lr = 0;          // at the epoch's last step
  double train_loss = 0;  // mean over the epoch's batches (class-weighted cross-entropy)
  double val_loss = 0;    // mean unweighted cross-entropy over the validation images
  double val_accuracy = 0;
  double val_macro_f1 = 0;
  std::vector<double> val_f1;    // per class
  double val_worst_cell_f1 = 0;  // the worst (source, age group) cell's macro-F1; NaN: no cell large enough
  std::string val_worst_cell;    // "source/age_group"
  double train_source_loss = 0;  // mean of the adversary's loss over the epoch (0 without one)
  double train_seconds = 0;      // time in training steps (validation excluded)
  double images_per_second = 0;  // training images / train_seconds
};

enum class StopReason { completed, early_stopping, interrupted, time_limit };
std::string stop_reason_name(StopReason reason);

struct TrainPlan {
  std::int64_t train_images = 0, val_images = 0;
  std::int64_t batches_per_epoch = 0;
  std::int64_t parameters = 0;
  std::int64_t trainable_parameters = 0;  // the ones the optimizer updates (unfreeze)
  int input_size = 0;
  int threads = 0;
  std::string device;  // where the steps run: "cpu" or "cuda:0"
  std::vector<std::string> class_names;
  std::vector<double> class_weights;
  double lr = 0;
  int start_epoch = 0;  // 0-based epoch and batch where this session starts
  std::int64_t start_batch = 0;
  int checkpoint_threads = 0;  // threads of the run resumed from (0: not resuming); bit-identical
                               // continuation needs the same count
};

struct StepReport {
  int epoch = 0, epochs = 0;            // 1-based epoch
  std::int64_t batch = 0, batches = 0;  // batch: 1-based within the epoch
  std::int64_t step = 0;                // optimizer steps so far, all sessions
  double loss = 0, lr = 0;
  double images_per_second = 0;  // this session's training throughput
  double eta_seconds = 0;        // for the remaining training steps at that rate
};

// What a telemetry recorder (models/train_telemetry.h) sees around one optimizer
// step: before it, the parameters hold this step's gradients and still their old
// values; after it, the new values, and the step's loss and learning rate are known.
struct UpdateView {
  ClassifierNet& net;
  ParameterSet& params;
  const Tensor& input;               // the batch the gradients are of, as the net saw it
  std::int64_t first_trainable = 0;  // parameters before this flat offset are frozen
  std::int64_t step = 0;             // 1-based, all sessions: this step
  int epoch = 0;                     // 1-based
  double lr = 0, loss = 0;           // after the update only
};

struct TrainCallbacks {
  std::function<void(const TrainPlan&)> on_start;
  // Around every optimizer step; a callback may read the net (in evaluation mode,
  // restoring training mode) but must change nothing and draw no random numbers.
  std::function<void(const UpdateView&)> before_update, after_update;
  std::function<void(const StepReport&)> on_step;
  std::function<void(const EpochRecord&, bool is_best)> on_epoch;
};

struct TrainResult {
  std::vector<EpochRecord> history;  // every epoch, earlier sessions included
  int best_epoch = 0;                // 0: no epoch finished
  StopReason stop = StopReason::completed;
  std::int64_t steps = 0;
  double train_seconds = 0;  // all sessions, training steps only
  double images_per_second = 0;
  std::filesystem::path model_path, card_path, checkpoint_path;
};

// Trains as the options say; returns when the epochs are done, early stopping
// triggers, `*stop` becomes true (checked after every batch) or the time limit
// passes. Throws cxr::Error for unusable options, data or checkpoints.
TrainResult train(const TrainOptions& options, const std::atomic<bool>* stop = nullptr,
                  const TrainCallbacks& callbacks = {});

}  // namespace cxr
