// `cxr seg train | eval | predict`: CT infection segmentation with a small U-Net
// (models/seg_model.h) on the covid-ct-seg slices (MedSeg, Inf-Net split).
//   train   --data DIR --task infection|multiclass --out FILE: trains on DIR/train,
//           one line per epoch; then scores DIR/test unless --no-eval
//   eval    --data DIR --model FILE [--split test] [--json FILE]: Dice and IoU per
//           class, mean over slices and pooled, with 95% bootstrap intervals
//   predict --model FILE IMAGE... [--overlay-dir DIR]: one JSON line per image with
//           each class's share of the slice; the overlay PNG when asked
//   crossval --data DIR --task T [--folds 5]: k-fold cross-validation over the train
//           and test slices together (models/seg_crossval.h)
// train, eval and predict take --device cpu|cuda|auto (models/device_choice.h).
#include "app/commands.h"
#include "base/parallel.h"
#include "engine/io/atomic_file.h"
#include "models/device_choice.h"
#include "models/seg_crossval.h"
#include "models/seg_model.h"
#include "models/seg_overlay.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

namespace cxr::cli {

namespace {

struct SegOptions {
  std::string data, model, out, task = "infection", split = "test", json, overlay_dir, device = "cpu";
  std::vector<std::string> images;
  int epochs = 60, batch = 8, size = 128, threads = 0, folds = 5;
  double lr = 3e-3;
  std::uint64_t seed = 1;
  bool no_augment = false, no_eval = false;
};

std::string interval(const Interval& i) {
  return fmt::format("{:.3f} [{:.3f}, {:.3f}]", i.value, i.low, i.high);
}

boost::json::object interval_json(const Interval& i) {
  return {{"value", i.value}, {"low", i.low}, {"high", i.high}};
}

void print_and_save(const SegEvaluation& e, const std::string& split, const std::string& json_path) {
  fmt::print("{} slices of {}: Dice and IoU, 95% bootstrap intervals over slices\n", e.slice_ids.size(), split);
  fmt::print("{:<20} {:<26} {:<26} {:<26} {:<26}\n", "class", "mean Dice", "mean IoU", "pooled Dice", "pooled IoU");
  boost::json::object classes;
  for (std::size_t r = 0; r < e.names.size(); ++r) {
    const OverlapSummary& s = e.summaries[r];
    fmt::print("{:<20} {:<26} {:<26} {:<26} {:<26}\n", e.names[r], interval(s.mean_dice), interval(s.mean_iou),
               interval(s.pooled_dice), interval(s.pooled_iou));
    boost::json::array per_slice;
    for (std::size_t i = 0; i < e.slice_ids.size(); ++i)
      per_slice.push_back(
          {{"id", e.slice_ids[i]}, {"dice", e.per_slice[r][i].dice()}, {"iou", e.per_slice[r][i].iou()}});
    classes[e.names[r]] = {{"mean_dice", interval_json(s.mean_dice)},
                           {"mean_iou", interval_json(s.mean_iou)},
                           {"pooled_dice", interval_json(s.pooled_dice)},
                           {"pooled_iou", interval_json(s.pooled_iou)},
                           {"slices", std::move(per_slice)}};
  }
  if (!json_path.empty())
    write_file_atomically(json_path,
                          boost::json::serialize(boost::json::object{{"split", split}, {"classes", classes}}));
}

void run_train(const SegOptions& opt) {
  if (opt.threads > 0) set_num_threads(opt.threads);
  const std::vector<SegSlice> train = load_seg_split(opt.data, "train");
  SegNetConfig config;
  config.input_size = opt.size;
  SegModel model = make_seg_model(parse_seg_task(opt.task), config, opt.seed);
  model.params->to(resolve_device(opt.device));
  fmt::print("training a {} U-Net ({} parameters) on {} slices at {} px\n", opt.task, model.params->count(),
             train.size(), opt.size);
  const auto start = std::chrono::steady_clock::now();
  SegTrainOptions options{
      .epochs = opt.epochs, .batch_size = opt.batch, .lr = opt.lr, .seed = opt.seed, .augment = !opt.no_augment};
  train_seg(model, train, options, [&](int epoch, double loss) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print("epoch {:3d}  loss {:.4f}  {:.0f} s\n", epoch, loss, seconds);
    std::fflush(stdout);
  });
  save_seg_model(opt.out, model);
  fmt::print("wrote {}\n", opt.out);
  if (!opt.no_eval) print_and_save(evaluate_seg(model, load_seg_split(opt.data, "test")), "test", opt.json);
}

void run_crossval(const SegOptions& opt) {
  if (opt.threads > 0) set_num_threads(opt.threads);
  std::vector<SegSlice> slices = load_seg_split(opt.data, "train");
  for (SegSlice& s : load_seg_split(opt.data, "test")) slices.push_back(std::move(s));
  SegNetConfig config;
  config.input_size = opt.size;
  const SegTrainOptions options{
      .epochs = opt.epochs, .batch_size = opt.batch, .lr = opt.lr, .seed = opt.seed, .augment = !opt.no_augment};
  fmt::print("{}-fold cross-validation of a {} U-Net over {} slices at {} px\n", opt.folds, opt.task, slices.size(),
             opt.size);
  const auto start = std::chrono::steady_clock::now();
  const SegEvaluation e = cross_validate_seg(
      slices, parse_seg_task(opt.task), config, options, opt.folds, opt.seed, [&](int fold, int epoch, double loss) {
        if (epoch % 10 != 0) return;
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        fmt::print("fold {} epoch {:3d}  loss {:.4f}  {:.0f} s\n", fold + 1, epoch, loss, seconds);
        std::fflush(stdout);
      });
  print_and_save(e, fmt::format("{}-fold cross-validation", opt.folds), opt.json);
}

void run_eval(const SegOptions& opt) {
  if (opt.threads > 0) set_num_threads(opt.threads);
  SegModel model = load_seg_model(opt.model);
  model.params->to(resolve_device(opt.device));
  print_and_save(evaluate_seg(model, load_seg_split(opt.data, opt.split)), opt.split, opt.json);
}

int run_predict(const SegOptions& opt) {
  if (opt.threads > 0) set_num_threads(opt.threads);
  SegModel model = load_seg_model(opt.model);
  model.params->to(resolve_device(opt.device));
  const std::vector<std::string> names = seg_class_names(model.task);
  int failures = 0;
  for (const std::string& path : opt.images) {
    boost::json::object line{{"image", path}};
    std::ifstream in(path, std::ios::binary);
    if (!in.is_open()) {
      line["error"] = "unreadable_file";
      fmt::print("{}\n", boost::json::serialize(line));
      ++failures;
      continue;
    }
    const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    data::DecodeResult decoded = data::decode_grey(bytes, data::DecodeLimits{});
    if (!decoded.ok()) {
      line["error"] = decoded.error;
      line["detail"] = decoded.detail;
      ++failures;
    } else {
      const SegPrediction p = predict_seg(model, decoded.image);
      boost::json::object area;
      for (std::size_t c = 0; c < names.size(); ++c) area[names[c]] = p.area_fraction[c];
      line["area_fraction"] = std::move(area);
      if (!opt.overlay_dir.empty()) {
        const std::string out =
            (std::filesystem::path(opt.overlay_dir) / (std::filesystem::path(path).stem().string() + ".seg.png"))
                .string();
        write_file_atomically(out,
                              encode_png(render_seg_overlay(decoded.image, p.labels, seg_class_count(model.task) == 1),
                                         {{"Software", "cxr seg predict"}}));
        line["overlay"] = out;
      }
    }
    fmt::print("{}\n", boost::json::serialize(line));
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace

void add_seg_command(CLI::App& app) {
  CLI::App* seg = app.add_subcommand("seg", "CT infection segmentation (U-Net): train, eval, predict");
  seg->require_subcommand(1);
  auto opt = std::make_shared<SegOptions>();

  CLI::App* train = seg->add_subcommand("train", "train a U-Net on <data>/train, then score <data>/test");
  train->add_option("--data", opt->data, "the covid-ct-seg folder")->required()->check(CLI::ExistingDirectory);
  train->add_option("--task", opt->task, "infection or multiclass")
      ->check(CLI::IsMember({"infection", "multiclass"}))
      ->capture_default_str();
  train->add_option("--out", opt->out, "model file to write")->required();
  train->add_option("--epochs", opt->epochs)->check(CLI::PositiveNumber)->capture_default_str();
  train->add_option("--batch", opt->batch, "slices per step")->check(CLI::PositiveNumber)->capture_default_str();
  train->add_option("--size", opt->size, "input side in pixels (divisible by 8)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  train->add_option("--lr", opt->lr, "peak AdamW learning rate")->check(CLI::PositiveNumber)->capture_default_str();
  train->add_option("--seed", opt->seed)->capture_default_str();
  train->add_flag("--no-augment", opt->no_augment, "train on the slices as they are");
  train->add_flag("--no-eval", opt->no_eval, "skip scoring the test split");
  train->add_option("--json", opt->json, "write the test scores (and per-slice ones) to this JSON file");
  train->add_option("--threads", opt->threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  train->add_option("--device", opt->device, kDeviceHelp)->capture_default_str();
  train->callback([opt] { run_train(*opt); });

  CLI::App* crossval = seg->add_subcommand("crossval", "k-fold cross-validation over <data>/train and <data>/test");
  crossval->add_option("--data", opt->data, "the covid-ct-seg folder")->required()->check(CLI::ExistingDirectory);
  crossval->add_option("--task", opt->task, "infection or multiclass")
      ->check(CLI::IsMember({"infection", "multiclass"}))
      ->capture_default_str();
  crossval->add_option("--folds", opt->folds)->check(CLI::Range(2, 98))->capture_default_str();
  crossval->add_option("--epochs", opt->epochs)->check(CLI::PositiveNumber)->capture_default_str();
  crossval->add_option("--size", opt->size, "input side in pixels (divisible by 8)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  crossval->add_option("--seed", opt->seed, "the folds and every fold's training")->capture_default_str();
  crossval->add_option("--json", opt->json, "write the scores (and per-slice ones) to this JSON file");
  crossval->add_option("--threads", opt->threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  crossval->callback([opt] { run_crossval(*opt); });

  CLI::App* eval = seg->add_subcommand("eval", "Dice and IoU of a model on labelled slices");
  eval->add_option("--data", opt->data, "the covid-ct-seg folder")->required()->check(CLI::ExistingDirectory);
  eval->add_option("--model", opt->model, "model file")->required()->check(CLI::ExistingFile);
  eval->add_option("--split", opt->split, "train or test")
      ->check(CLI::IsMember({"train", "test"}))
      ->capture_default_str();
  eval->add_option("--json", opt->json, "write the scores (and per-slice ones) to this JSON file");
  eval->add_option("--threads", opt->threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  eval->add_option("--device", opt->device, kDeviceHelp)->capture_default_str();
  eval->callback([opt] { run_eval(*opt); });

  CLI::App* predict = seg->add_subcommand("predict", "segment CT slices: area per class, overlay PNGs");
  predict->add_option("--model", opt->model, "model file")->required()->check(CLI::ExistingFile);
  predict->add_option("images", opt->images, "CT slices (JPEG or PNG)")->required();
  predict->add_option("--overlay-dir", opt->overlay_dir, "write <name>.seg.png overlays here")
      ->check(CLI::ExistingDirectory);
  predict->add_option("--threads", opt->threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  predict->add_option("--device", opt->device, kDeviceHelp)->capture_default_str();
  predict->callback([opt] {
    if (run_predict(*opt) != 0) throw CLI::RuntimeError(1);
  });
}

}  // namespace cxr::cli
