// `cxr lungs train | eval`: the chest X-ray lung-field segmenter, the CT U-Net
// (models/seg_model.h) trained on the ieee8023 images with lungVAE masks
// (models/lung_seg_data.h), split by patient consistently with a built dataset.
//   train --covid DIR --out FILE [--split-from DATASET]: trains on the train
//         patients, then prints Dice and IoU on the val and test patients
//   eval  --covid DIR --model FILE [--split-from DATASET] [--split test] [--json FILE]
//   apply --data DATASET --out DIR --model FILE --view crop[:M]|mask[:M]: the dataset
//         seen through a lung view, for training a classifier that only sees the lungs
//         (models/lung_view_dataset.h)
// Predictions on any image (Kermany, NIH, uploads): `cxr seg predict --model FILE`.
#include "app/commands.h"
#include "base/check.h"
#include "base/parallel.h"
#include "data/dataset.h"
#include "data/records.h"
#include "engine/io/atomic_file.h"
#include "models/device_choice.h"
#include "models/lung_seg_data.h"
#include "models/lung_view_dataset.h"
#include "models/seg_model.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace cxr::cli {

namespace {

namespace fs = std::filesystem;

struct LungsOptions {
  std::string covid, split_from, model, out, split = "test", json, device = "cpu", data, view = "crop:0.1";
  int epochs = 40, batch = 8, size = 96, threads = 0;
  double lr = 3e-3;
  std::uint64_t seed = 1, split_seed = 42;
};

std::vector<LungMaskPair> pairs_of(const LungsOptions& opt) {
  std::vector<data::ManifestRow> classifier;
  if (!opt.split_from.empty()) {
    const data::Dataset dataset = data::Dataset::open(opt.split_from);
    for (std::int64_t i = 0; i < dataset.size(); ++i) classifier.push_back(dataset.row(i));
  }
  LungMaskPairs found = find_lung_mask_pairs(opt.covid, classifier, data::SplitFractions{}, opt.split_seed);
  if (!found.no_image.empty())
    fmt::print("{} masks skipped: no metadata row or image file in {} (e.g. {})\n", found.no_image.size(), opt.covid,
               found.no_image.front());
  return std::move(found.pairs);
}

std::vector<SegSlice> slices_of(const std::vector<LungMaskPair>& pairs, data::Split split) {
  std::vector<SegSlice> slices;
  for (const LungMaskPair& pair : pairs)
    if (pair.split == split) slices.push_back(load_lung_slice(pair));
  return slices;
}

std::int64_t patients_of(const std::vector<LungMaskPair>& pairs, data::Split split) {
  std::vector<std::string> patients;
  for (const LungMaskPair& pair : pairs)
    if (pair.split == split) patients.push_back(pair.patient);
  std::sort(patients.begin(), patients.end());
  return std::unique(patients.begin(), patients.end()) - patients.begin();
}

boost::json::object interval_json(const Interval& i) {
  return {{"value", i.value}, {"low", i.low}, {"high", i.high}};
}

boost::json::object report(SegModel& model, const std::vector<LungMaskPair>& pairs, data::Split split) {
  const std::vector<SegSlice> slices = slices_of(pairs, split);
  const std::string name(data::split_name(split));
  if (slices.empty()) {
    fmt::print("{}: no images\n", name);
    return {{"split", name}, {"images", 0}};
  }
  const SegEvaluation e = evaluate_seg(model, slices);
  const OverlapSummary& s = e.summaries.front();
  const auto text = [](const Interval& i) {
    return fmt::format("{:.3f} [{:.3f}, {:.3f}]", i.value, i.low, i.high);
  };
  fmt::print("{:<5} {:3d} images of {:3d} patients  mean Dice {}  mean IoU {}  pooled Dice {}\n", name, slices.size(),
             patients_of(pairs, split), text(s.mean_dice), text(s.mean_iou), text(s.pooled_dice));
  boost::json::array per_image;
  for (std::size_t i = 0; i < e.slice_ids.size(); ++i)
    per_image.push_back({{"id", e.slice_ids[i]}, {"dice", e.per_slice[0][i].dice()}});
  return {{"split", name},
          {"images", slices.size()},
          {"patients", patients_of(pairs, split)},
          {"mean_dice", interval_json(s.mean_dice)},
          {"mean_iou", interval_json(s.mean_iou)},
          {"pooled_dice", interval_json(s.pooled_dice)},
          {"per_image", std::move(per_image)}};
}

void print_split_sizes(const std::vector<LungMaskPair>& pairs, const LungsOptions& opt) {
  fmt::print("{} lungVAE masks; split by patient {}:", pairs.size(),
             opt.split_from.empty() ? fmt::format("(seed {})", opt.split_seed)
                                    : fmt::format("as in {} (others: seed {})", opt.split_from, opt.split_seed));
  for (data::Split s : data::kSplits)
    fmt::print(" {} {} images / {} patients", data::split_name(s),
               std::count_if(pairs.begin(), pairs.end(), [&](const auto& p) { return p.split == s; }),
               patients_of(pairs, s));
  fmt::print("\n");
}

void run_train(const LungsOptions& opt) {
  if (opt.threads > 0) set_num_threads(opt.threads);
  const std::vector<LungMaskPair> pairs = pairs_of(opt);
  print_split_sizes(pairs, opt);
  const std::vector<SegSlice> train = slices_of(pairs, data::Split::train);
  SegNetConfig config;
  config.input_size = opt.size;
  SegModel model = make_seg_model(SegTask::lung_fields, config, opt.seed);
  model.params->to(resolve_device(opt.device));
  fmt::print("training a lung-field U-Net ({} parameters) on {} images at {} px\n", model.params->count(), train.size(),
             opt.size);
  const auto start = std::chrono::steady_clock::now();
  const SegTrainOptions options{.epochs = opt.epochs, .batch_size = opt.batch, .lr = opt.lr, .seed = opt.seed};
  train_seg(model, train, options, [&](int epoch, double loss) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print("epoch {:3d}  loss {:.4f}  {:.0f} s\n", epoch, loss, seconds);
    std::fflush(stdout);
  });
  save_seg_model(opt.out, model);
  fmt::print("wrote {}\n", opt.out);
  boost::json::array splits{report(model, pairs, data::Split::val), report(model, pairs, data::Split::test)};
  if (!opt.json.empty())
    write_file_atomically(opt.json, boost::json::serialize(boost::json::object{{"splits", std::move(splits)}}));
}

void run_eval(const LungsOptions& opt) {
  if (opt.threads > 0) set_num_threads(opt.threads);
  SegModel model = load_seg_model(opt.model);
  CXR_CHECK(model.task == SegTask::lung_fields, "{}: a {} model, not a lung-field one", opt.model,
            seg_task_name(model.task));
  model.params->to(resolve_device(opt.device));
  const std::vector<LungMaskPair> pairs = pairs_of(opt);
  print_split_sizes(pairs, opt);
  boost::json::object result = report(model, pairs, *data::split_from_name(opt.split));
  if (!opt.json.empty()) write_file_atomically(opt.json, boost::json::serialize(result));
}

void run_apply(const LungsOptions& opt) {
  if (opt.threads > 0) set_num_threads(opt.threads);
  SegModel model = load_seg_model(opt.model);
  model.params->to(resolve_device(opt.device));
  const LungView view = LungView::parse(opt.view);
  const auto start = std::chrono::steady_clock::now();
  const LungViewDatasetReport r =
      write_lung_view_dataset(opt.data, opt.out, model, opt.model, view, [&](std::int64_t done, std::int64_t total) {
        if (done % 500 == 0 || done == total) {
          fmt::print("{} / {} images\n", done, total);
          std::fflush(stdout);
        }
      });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print(
      "wrote {}: {} images seen through the lung view {} ({} left as they were: no lungs found); train "
      "pixels mean {:.4f}, std {:.4f}; {:.0f} s\n",
      opt.out, r.images, view.str(), r.unchanged, r.mean, r.stddev, seconds);
}

void add_split_options(CLI::App* cmd, LungsOptions& opt) {
  cmd->add_option("--covid", opt.covid, "the ieee8023 folder (metadata.csv, annotations/lungVAE-masks)")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--split-from", opt.split_from,
                  "a `cxr data build` folder: its patients keep their split (no classifier test patient is trained on)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--split-seed", opt.split_seed, "deals the patients the built dataset does not hold")
      ->capture_default_str();
  cmd->add_option("--threads", opt.threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--device", opt.device, kDeviceHelp)->capture_default_str();
  cmd->add_option("--json", opt.json, "write the scores (and per-image Dice) to this JSON file");
}

}  // namespace

void add_lungs_command(CLI::App& app) {
  CLI::App* lungs = app.add_subcommand("lungs", "chest X-ray lung-field segmentation (U-Net on lungVAE masks)");
  lungs->require_subcommand(1);
  auto opt = std::make_shared<LungsOptions>();

  CLI::App* train = lungs->add_subcommand("train", "train on the train patients, score the val and test patients");
  add_split_options(train, *opt);
  train->add_option("--out", opt->out, "model file to write")->required();
  train->add_option("--epochs", opt->epochs)->check(CLI::PositiveNumber)->capture_default_str();
  train->add_option("--batch", opt->batch, "images per step")->check(CLI::PositiveNumber)->capture_default_str();
  train->add_option("--size", opt->size, "input side in pixels (divisible by 8)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  train->add_option("--lr", opt->lr, "peak AdamW learning rate")->check(CLI::PositiveNumber)->capture_default_str();
  train->add_option("--seed", opt->seed, "initialisation, shuffling and augmentation")->capture_default_str();
  train->callback([opt] { run_train(*opt); });

  CLI::App* eval = lungs->add_subcommand("eval", "Dice and IoU of a lung-field model on one split's patients");
  add_split_options(eval, *opt);
  eval->add_option("--model", opt->model, "model file")->required()->check(CLI::ExistingFile);
  eval->add_option("--split", opt->split)->check(CLI::IsMember({"train", "val", "test"}))->capture_default_str();
  eval->callback([opt] { run_eval(*opt); });

  CLI::App* apply = lungs->add_subcommand("apply", "a built dataset cut to the lungs (crop or mask), for training");
  apply->add_option("--data", opt->data, "a `cxr data build` folder")->required()->check(CLI::ExistingDirectory);
  apply->add_option("--out", opt->out, "the folder to write (a dataset)")->required();
  apply->add_option("--model", opt->model, "a `cxr lungs train` model")->required()->check(CLI::ExistingFile);
  apply->add_option("--view", opt->view, "crop[:MARGIN] or mask[:MARGIN] (margin: a share of the box or square)")
      ->capture_default_str();
  apply->add_option("--threads", opt->threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  apply->add_option("--device", opt->device, kDeviceHelp)->capture_default_str();
  apply->callback([opt] { run_apply(*opt); });
}

}  // namespace cxr::cli
