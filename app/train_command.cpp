// `cxr train`: trains a preset network on a built dataset (models/trainer.h), with
// a progress bar on a terminal (plain lines otherwise), a summary per epoch, and
// Ctrl-C saving a checkpoint that `--resume` continues from.
#include "app/commands.h"
#include "base/parallel.h"
#include "models/device_choice.h"
#include "models/presets.h"
#include "models/stop_signal.h"
#include "models/train_state.h"
#include "models/train_telemetry.h"
#include "models/trainer.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

namespace cxr::cli {

namespace {

std::string duration(double seconds) {
  const auto s = static_cast<long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s / 60) % 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

// The step line: redrawn in place on a terminal, about ten lines per epoch otherwise.
class StepPrinter {
 public:
  StepPrinter() : tty_(::isatty(::fileno(stderr)) == 1) {}

  void step(const StepReport& r) {
    const std::string stats = fmt::format("loss {:.4f}  lr {:.2e}  {:.1f} img/s  ETA {}", r.loss, r.lr,
                                          r.images_per_second, duration(r.eta_seconds));
    if (tty_) {
      constexpr int kWidth = 24;
      const int filled = static_cast<int>(kWidth * r.batch / std::max<std::int64_t>(1, r.batches));
      fmt::print(stderr, "\repoch {}/{} [{}{}] {}/{}  {}\033[K", r.epoch, r.epochs, std::string(filled, '#'),
                 std::string(kWidth - filled, '.'), r.batch, r.batches, stats);
      open_ = true;
    } else {
      const std::int64_t every = std::max<std::int64_t>(1, r.batches / 10);
      if (r.batch % every != 0 && r.batch != r.batches) return;
      fmt::print(stderr, "epoch {}/{} batch {}/{}  {}\n", r.epoch, r.epochs, r.batch, r.batches, stats);
    }
    std::fflush(stderr);
  }

  void end_line() {
    if (open_) fmt::print(stderr, "\n");
    open_ = false;
  }

 private:
  bool tty_;
  bool open_ = false;
};

struct Given {
  std::string optimizer = "adamw", class_weights = "auto", augment = "on", balance = "none", select = "macro_f1";
  int threads = 0;
  std::string resume, init_model, unfreeze = "all";
  std::string distill_from;  // teacher probabilities CSV, or none
  std::string telemetry;     // models/train_telemetry.h: a folder, or none
  int telemetry_every = 20;
};

void add_options(CLI::App* cmd, TrainOptions& o, Given& g) {
  cmd->add_option("--data", o.data_dir, "dataset directory from `cxr data build`");
  cmd->add_option("--preset", o.preset, "network: cxr-small (CPU) or kaggle-sep (GPU-sized)")
      ->check(CLI::IsMember(preset_names()))
      ->capture_default_str();
  cmd->add_option("--out", o.out, "model file to write (the best epoch by validation macro-F1)");
  cmd->add_option("--epochs", o.epochs, "epochs")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--batch", o.batch, "batch size")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--lr", o.lr, "peak learning rate (default 1e-3 for adamw, 0.05 for sgd)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--optimizer", g.optimizer, "adamw or sgd (Nesterov momentum 0.9)")
      ->check(CLI::IsMember({"adamw", "sgd"}))
      ->capture_default_str();
  cmd->add_option("--class-weights", g.class_weights,
                  "auto: inverse class frequency of the train split; sqrt: its square root; none")
      ->check(CLI::IsMember({"auto", "sqrt", "none"}))
      ->capture_default_str();
  cmd->add_option("--augment", g.augment, "on, strong (also gamma, blur, noise, borders, JPEG: source cues) or off")
      ->check(CLI::IsMember({"on", "strong", "off"}))
      ->capture_default_str();
  cmd->add_option("--balance", g.balance,
                  "none, or source: every target equally likely, within it each source x age group by the square "
                  "root of its size")
      ->check(CLI::IsMember({"none", "source"}))
      ->capture_default_str();
  cmd->add_option("--adversary", o.adversary,
                  "weight of a source classifier behind gradient reversal on the non-COVID-19 images (0: off)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--select", g.select,
                  "keep the epoch with the best validation macro_f1, the best worst_cell (source x age group), or the "
                  "last")
      ->check(CLI::IsMember({"macro_f1", "worst_cell", "last"}))
      ->capture_default_str();
  cmd->add_option("--seed", o.seed, "seed of initialisation, order, augmentation and dropout")->capture_default_str();
  cmd->add_option("--threads", g.threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--telemetry", g.telemetry,
                  "append per-layer gradient norms, update ratios, dead ReLUs and BN statistics to "
                  "DIR/telemetry.jsonl (read it with `cxr inspect --run DIR`)");
  cmd->add_option("--telemetry-every", g.telemetry_every, "steps between telemetry records")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--resume", g.resume, "continue from a checkpoint (the other settings default to its own)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--size", o.size, "input side in pixels, resized from the dataset's (0: the dataset's)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--patience", o.patience,
                  "stop after this many epochs without a better validation macro-F1 "
                  "(0: never)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--max-minutes", o.max_minutes, "stop with a resumable checkpoint after this long (0: no limit)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--width", o.width, "channel multiplier of the preset (e.g. 0.5: half the channels)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--train-fraction", o.train_fraction,
                  "share of the train split's patients to train on, per class (learning curves)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--workers", o.workers, "threads preparing batches")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--device", o.device, kDeviceHelp)->capture_default_str();
  cmd->add_option("--init-model", g.init_model,
                  "fine-tune: start from this model file's weights, architecture, classes and normalisation "
                  "(--preset, --width and --size are then unused)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--unfreeze", g.unfreeze, "fine-tune: the layers that train: all, last_3_blocks, last_block, head")
      ->check(CLI::IsMember({"all", "last_3_blocks", "last_block", "head"}))
      ->capture_default_str();
  cmd->add_option("--distill-from", g.distill_from,
                  "knowledge distillation: train toward these per-image class probabilities (CSV: id and one "
                  "column per class, e.g. from scripts/teacher-probabilities.py) instead of the labels; class "
                  "weights do not apply")
      ->check(CLI::ExistingFile);
}

// With --resume, the checkpoint's settings are the defaults; what the command line
// gives explicitly overrides them (and the trainer refuses what would change the run).
TrainOptions resolve(CLI::App* cmd, const TrainOptions& given, const Given& g) {
  auto was_given = [cmd](const char* name) {
    return cmd->get_option(name)->count() > 0;
  };
  TrainOptions o = given;
  o.optimizer = parse_optimizer(g.optimizer);
  o.class_weights = parse_class_weighting(g.class_weights);
  o.augment = g.augment != "off";
  o.strong_augment = g.augment == "strong";
  o.balance = parse_sample_balance(g.balance);
  o.select = parse_selection(g.select);
  if (!g.init_model.empty()) o.init_model = g.init_model;
  if (!g.distill_from.empty()) o.distill_from = g.distill_from;
  o.unfreeze = *parse_unfreeze(g.unfreeze);  // CLI11 checked the name
  if (g.resume.empty()) {
    CXR_CHECK(was_given("--data") && was_given("--out"), "train: --data and --out are required (or --resume)");
    return o;
  }
  TrainOptions r = load_train_checkpoint(g.resume).state.options;
  if (was_given("--data")) r.data_dir = o.data_dir;
  if (was_given("--preset")) r.preset = o.preset;
  if (was_given("--out")) r.out = o.out;
  if (was_given("--epochs")) r.epochs = o.epochs;
  if (was_given("--batch")) r.batch = o.batch;
  if (was_given("--lr")) r.lr = o.lr;
  if (was_given("--optimizer")) r.optimizer = o.optimizer;
  if (was_given("--class-weights")) r.class_weights = o.class_weights;
  if (was_given("--augment")) r.augment = o.augment, r.strong_augment = o.strong_augment;
  if (was_given("--balance")) r.balance = o.balance;
  if (was_given("--adversary")) r.adversary = o.adversary;
  if (was_given("--select")) r.select = o.select;
  if (was_given("--distill-from")) r.distill_from = o.distill_from;
  if (was_given("--seed")) r.seed = o.seed;
  if (was_given("--size")) r.size = o.size;
  if (was_given("--patience")) r.patience = o.patience;
  if (was_given("--max-minutes")) r.max_minutes = o.max_minutes;
  if (was_given("--workers")) r.workers = o.workers;
  r.device = o.device;  // where this session runs, not where the checkpoint ran
  if (was_given("--width")) r.width = o.width;
  if (was_given("--train-fraction")) r.train_fraction = o.train_fraction;
  r.resume = g.resume;
  return r;
}

void print_plan(const TrainOptions& o, const TrainPlan& p) {
  fmt::print("cxr train: {} ({} parameters, {}x{} input) on {}: {} train / {} val images, {} classes\n", o.preset,
             p.parameters, p.input_size, p.input_size, o.data_dir.string(), p.train_images, p.val_images,
             p.class_names.size());
  std::string weights;
  for (std::size_t c = 0; c < p.class_names.size(); ++c)
    weights += fmt::format("{}{} {:.3f}", c ? ", " : "", p.class_names[c], p.class_weights[c]);
  fmt::print(
      "  {} epochs of {} batches of {}, {} lr {:g} (warm-up + cosine), augmentation {}, seed {}, {} threads, "
      "on {}\n",
      o.epochs, p.batches_per_epoch, o.batch, optimizer_name(o.optimizer), p.lr,
      !o.augment         ? "off"
      : o.strong_augment ? "strong"
                         : "on",
      o.seed, p.threads, p.device);
  fmt::print("  sampling {}, source adversary {:g}, model kept by validation {}\n", sample_balance_name(o.balance),
             o.adversary, selection_name(o.select));
  if (o.distill_from)
    fmt::print("  distilled from the teacher probabilities in {} (class weights unused)\n", o.distill_from->string());
  else
    fmt::print("  class weights: {}\n", weights);
  if (p.checkpoint_threads > 0) {
    fmt::print("  resuming at epoch {} batch {}\n", p.start_epoch + 1, p.start_batch);
    if (p.checkpoint_threads != p.threads)
      fmt::print(
          "  note: the checkpoint ran on {} threads, this run on {}: the results may differ in the last bits "
          "from an uninterrupted run (pass --threads {} for an exact continuation)\n",
          p.checkpoint_threads, p.threads, p.checkpoint_threads);
  }
  std::fflush(stdout);
}

void print_epoch(const EpochRecord& r, const std::vector<std::string>& classes, bool best) {
  std::string f1;
  for (std::size_t c = 0; c < r.val_f1.size() && c < classes.size(); ++c)
    f1 += fmt::format("{}{} {:.3f}", c ? ", " : "", classes[c], r.val_f1[c]);
  const std::string worst = std::isnan(r.val_worst_cell_f1)
                                ? std::string()
                                : fmt::format(", worst cell {} {:.3f}", r.val_worst_cell, r.val_worst_cell_f1);
  const std::string source = r.train_source_loss != 0 ? fmt::format(" (source loss {:.3f})", r.train_source_loss) : "";
  fmt::print(
      "epoch {}: train loss {:.4f}{} | val loss {:.4f}, accuracy {:.1f}%, macro-F1 {:.4f}{}{} | F1 {} | "
      "{:.0f} s, {:.1f} img/s\n",
      r.epoch, r.train_loss, source, r.val_loss, 100 * r.val_accuracy, r.val_macro_f1, worst,
      best ? " (best, saved)" : "", f1, r.train_seconds, r.images_per_second);
  std::fflush(stdout);
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  auto given = std::make_shared<Given>();
  CLI::App* cmd = app.add_subcommand("train",
                                     "Train a network on a dataset directory; keeps the best epoch by "
                                     "validation macro-F1 and writes a model card next to it");
  add_options(cmd, *options, *given);
  cmd->callback([cmd, options, given] {
    if (given->threads > 0) set_num_threads(given->threads);
    const TrainOptions o = resolve(cmd, *options, *given);
    std::vector<std::string> classes;
    StepPrinter steps;
    TrainCallbacks cb;
    cb.on_start = [&](const TrainPlan& p) {
      classes = p.class_names;
      print_plan(o, p);
    };
    cb.on_step = [&](const StepReport& r) {
      steps.step(r);
    };
    cb.on_epoch = [&](const EpochRecord& r, bool best) {
      steps.end_line();
      print_epoch(r, classes, best);
    };

    std::optional<TelemetryRecorder> telemetry;
    if (!given->telemetry.empty()) telemetry.emplace(given->telemetry, given->telemetry_every).attach(cb);

    StopOnSignal stop;
    const TrainResult result = train(o, stop.flag(), cb);
    steps.end_line();
    if (result.best_epoch > 0) {
      const EpochRecord& best = result.history.at(result.best_epoch - 1);
      fmt::print("best epoch {}: val macro-F1 {:.4f}, accuracy {:.1f}%; model {}, card {}\n", best.epoch,
                 best.val_macro_f1, 100 * best.val_accuracy, result.model_path.string(), result.card_path.string());
    }
    fmt::print("{}: {} steps in {} of training ({:.1f} img/s)\n", stop_reason_name(result.stop), result.steps,
               duration(result.train_seconds), result.images_per_second);
    if (result.stop == StopReason::interrupted || result.stop == StopReason::time_limit) {
      fmt::print("resumable checkpoint: {}\ncontinue with: cxr train --resume {}\n", result.checkpoint_path.string(),
                 result.checkpoint_path.string());
      if (result.stop == StopReason::interrupted) throw CLI::RuntimeError(130);  // 128 + SIGINT, as a shell reports
    }
  });
}

}  // namespace cxr::cli
