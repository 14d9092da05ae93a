// `cxr eval --data DIR --model FILE [--split test] [--json out.json]`: the model on
// one split of a built dataset (models/metrics.h): a table on the console, and in
// the JSON everything, including every image's probabilities. Then the shortcut,
// measured: every metric by source x age group (models/shortcut_report.h), a linear
// probe for the source on the model's features (models/source_probe.h) and the share
// of Grad-CAM energy outside the lungs (models/lung_energy.h). With the model's OOD
// gate beside it (models/ood_gate.h), the ECE before and after its temperature scaling.
#include "app/commands.h"
#include "app/progress.h"
#include "base/parallel.h"
#include "data/dataset.h"
#include "data/labels.h"
#include "engine/io/atomic_file.h"
#include "engine/random.h"
#include "models/dataset_eval.h"
#include "models/dataset_settings.h"
#include "models/device_choice.h"
#include "models/inference.h"
#include "models/lung_energy.h"
#include "models/lung_fields.h"
#include "models/lung_mask_prediction.h"
#include "models/metrics.h"
#include "models/ood_fit.h"
#include "models/shortcut_report.h"
#include "models/source_probe.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

namespace cxr::cli {

namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

struct EvalOptions {
  std::string data, model, split = "test", json, covid;
  std::string lung_model;  // a lung-fields segmenter: its masks replace the prior (models/lung_mask_prediction.h)
  int batch = 32;
  int threads = 0;
  int probe_images = 2000;
  int heatmap_images = 400;
  std::string device = "cpu";
};

// Where the model's knowledge of each target comes from: the train split's images
// per target and source/age group, e.g. {"covid": {"ieee8023/adult": 269, ...}}.
json::object train_sources(const data::Dataset& dataset) {
  const auto& names = data::target_names(dataset.num_classes());
  std::map<int, std::map<std::string, std::int64_t>> counts;
  for (auto i : dataset.indices(data::Split::train)) {
    const auto& row = dataset.row(i);
    ++counts[row.label][fmt::format("{}/{}", data::source_name(row.source), data::age_group_name(row.age_group))];
  }
  json::object out;
  for (const auto& [target, cells] : counts) {
    json::object o;
    for (const auto& [cell, n] : cells) o[cell] = n;
    out[names[target]] = std::move(o);
  }
  return out;
}

// A seeded sample of at most `limit` of the indices, in their order.
std::vector<std::int64_t> sample(std::vector<std::int64_t> indices, int limit, std::uint64_t seed) {
  if (static_cast<std::int64_t>(indices.size()) <= limit) return indices;
  Generator gen(seed);
  shuffle(indices, gen);
  indices.resize(static_cast<std::size_t>(limit));
  std::sort(indices.begin(), indices.end());
  return indices;
}

// The source probe: trained on the train split's features, tested on the evaluated
// split's (uploads are not a source of their own and are left out).
std::optional<ProbeResult> probe_sources(LoadedModel& model, const data::Dataset& dataset,
                                         const std::vector<std::int64_t>& evaluated, const EvalOptions& opt,
                                         Progress& progress) {
  // The sources of the sampled train images, labelled in enum order.
  const auto train = sample(dataset.indices(data::Split::train), opt.probe_images, 0x70726f6265ULL);
  std::set<data::Source> sources;
  for (auto i : train)
    if (dataset.row(i).source != data::Source::upload) sources.insert(dataset.row(i).source);
  if (sources.size() < 2) return std::nullopt;
  std::vector<std::string> names;
  std::map<data::Source, int> label_of;
  for (data::Source s : sources) label_of[s] = static_cast<int>(names.size()), names.emplace_back(data::source_name(s));
  auto with_sources = [&](const std::vector<std::int64_t>& list, std::vector<std::int64_t>& out,
                          std::vector<int>& labels) {
    for (auto i : list)
      if (const auto it = label_of.find(dataset.row(i).source); it != label_of.end()) {
        out.push_back(i);
        labels.push_back(it->second);
      }
  };
  std::vector<std::int64_t> train_images, test_images;
  std::vector<int> train_labels, test_labels;
  with_sources(train, train_images, train_labels);
  with_sources(evaluated, test_images, test_labels);
  if (test_images.empty()) return std::nullopt;
  const auto total = static_cast<std::int64_t>(train_images.size() + test_images.size());
  const auto train_x = dataset_features(*model.net, model.info, dataset, train_images, opt.batch,
                                        [&](std::int64_t done) { progress.update("probe features", done, total); });
  const auto test_x = dataset_features(*model.net, model.info, dataset, test_images, opt.batch, [&](std::int64_t done) {
    progress.update("probe features", static_cast<std::int64_t>(train_images.size()) + done, total);
  });
  return train_linear_probe(train_x, train_labels, test_x, test_labels, names);
}

void run_eval(const EvalOptions& opt) {
  if (opt.threads > 0) set_num_threads(opt.threads);
  const Device device = resolve_device(opt.device);
  LoadedModel model = load_model(opt.model);
  model.params->to(device);
  const data::Dataset dataset = data::Dataset::open(opt.data);
  check_dataset_matches_model(dataset, model.info, opt.data, opt.model);
  const data::Split split = *data::split_from_name(opt.split);  // CLI11 checked the name
  const std::vector<std::int64_t> indices = dataset.indices(split);
  CXR_CHECK(!indices.empty(), "the {} split of {} is empty", opt.split, opt.data);

  const int k = static_cast<int>(model.info.class_names.size());
  const auto& target_names = data::target_names(dataset.num_classes());
  Progress progress;
  const auto start = std::chrono::steady_clock::now();
  const DatasetEvaluation evaluation = evaluate_on_dataset(
      *model.net, model.info, dataset, indices, opt.batch,
      [&](std::int64_t done) { progress.update("eval", done, static_cast<std::int64_t>(indices.size())); });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::vector<double>& probabilities = evaluation.probabilities;
  const std::vector<int>& targets = evaluation.targets;
  const ClassificationReport& report = evaluation.report;
  const ShortcutReport& shortcut = evaluation.by_source_and_age;
  const std::vector<int> predicted = predictions_from(probabilities, k);
  const std::vector<int> scored_as = resolve_targets(probabilities, targets, k);

  json::array images;
  for (std::size_t j = 0; j < indices.size(); ++j) {
    const auto& row = dataset.row(indices[j]);
    json::array p;
    for (int c = 0; c < k; ++c) p.push_back(probabilities[j * k + c]);
    images.push_back(json::object{{"id", row.id},
                                  {"source", data::source_name(row.source)},
                                  {"source_path", row.source_path},
                                  {"age_group", data::age_group_name(row.age_group)},
                                  {"label", target_names[targets[j]]},
                                  {"scored_as", model.info.class_names[scored_as[j]]},
                                  {"predicted", model.info.class_names[predicted[j]]},
                                  {"probabilities", std::move(p)}});
  }

  fmt::print("cxr eval: {} on the {} split of {} ({} images, {:.1f} s, {:.0f} images/s, {} threads, {})\n\n", opt.model,
             opt.split, opt.data, report.count, seconds, report.count / seconds, num_threads(), device.str());
  fmt::print("{}\n{}\n", format_report(report), format_shortcut_report(shortcut));

  std::optional<ProbeResult> probe;
  if (opt.probe_images > 0) {
    probe = probe_sources(model, dataset, indices, opt, progress);
    fmt::print("{}\n", probe ? format_probe(*probe) : "Source probe: fewer than two sources in the train split\n");
  }
  std::optional<LungEnergyReport> energy;
  if (opt.heatmap_images > 0) {
    const fs::path covid = !opt.covid.empty() ? fs::path(opt.covid) : dataset_covid_dir(opt.data);
    const fs::path boxes_path = default_lung_boxes(covid);
    std::map<std::string, AnnotatedImage> boxes;
    if (!covid.empty() && fs::exists(boxes_path)) boxes = read_coco_boxes(boxes_path.string());
    LungFields fields = LungFields::build(dataset, boxes, covid, model.info.config.input_size);
    const auto measured = sample(indices, opt.heatmap_images, 0x6c756e67ULL);
    if (!opt.lung_model.empty()) {
      SegModel lungs = load_seg_model(opt.lung_model);
      add_predicted_lung_masks(fields, lungs, dataset, measured, model.info.config.input_size);
    }
    energy = lung_energy(
        *model.net, model.info, dataset, measured, fields, 16,
        [&](std::int64_t done) { progress.update("heatmaps", done, static_cast<std::int64_t>(measured.size())); },
        opt.lung_model);
    fmt::print("{}\n", format_lung_energy(*energy));
  }
  // softmax(log p / T) = softmax(z / T): the evaluated probabilities give the scaled ones.
  json::value calibration = nullptr;
  if (const auto gate = load_gate_for(opt.model)) {
    std::vector<double> log_p;
    for (double p : probabilities) log_p.push_back(std::log(std::max(p, 1e-300)));
    const double after = calibration_error(log_p, targets, k, gate->temperature);
    fmt::print("Temperature scaling (T = {:.4f}, fitted on the val split): ECE {:.4f} -> {:.4f} ({} bins)\n\n",
               gate->temperature, report.ece, after, kEceBins);
    calibration = json::object{{"temperature", gate->temperature},
                               {"ece_before", report.ece},
                               {"ece_after", after},
                               {"bins", kEceBins},
                               {"gate", gate_path_for(opt.model)}};
  }
  fmt::print("Note: {}.\n", kShortcutCaveat);

  if (!opt.json.empty()) {
    json::object out{{"model", opt.model},
                     {"preset", model.info.preset},
                     {"data", opt.data},
                     {"manifest_sha256", dataset.manifest_sha256()},
                     {"split", opt.split},
                     {"metrics", report_to_json(report)},
                     {"by_source_and_age", shortcut_report_to_json(shortcut)},
                     {"source_probe", probe ? json::value(probe_to_json(*probe)) : json::value(nullptr)},
                     {"lung_energy", energy ? json::value(lung_energy_to_json(*energy)) : json::value(nullptr)},
                     {"train_sources", train_sources(dataset)},
                     {"calibration", calibration},
                     {"seconds", seconds},
                     {"images_per_second", report.count / seconds},
                     {"threads", num_threads()},
                     {"device", device.str()},
                     {"caveat", kShortcutCaveat},
                     {"images", std::move(images)}};
    write_file_atomically(opt.json, json::serialize(out) + "\n");
    fmt::print("wrote {}\n", opt.json);
  }
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto opt = std::make_shared<EvalOptions>();
  CLI::App* cmd =
      app.add_subcommand("eval",
                         "Evaluate a model on a split of a built dataset: per-class precision, recall, F1, AUC, "
                         "confusion matrix, calibration");
  cmd->add_option("--data", opt->data, "dataset directory (cxr data build)")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--model", opt->model, "model file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--split", opt->split, "train, val or test")
      ->check(CLI::IsMember({"train", "val", "test"}))
      ->capture_default_str();
  cmd->add_option("--json", opt->json, "write everything (metrics, per-image probabilities) to this JSON file");
  cmd->add_option("--probe-images", opt->probe_images,
                  "train images (a seeded sample) for the linear source probe; 0: no probe")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--heatmap-images", opt->heatmap_images,
                  "images (a seeded sample of the split) whose Grad-CAM energy outside the lungs is measured; 0: none")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--covid", opt->covid, "the ieee8023 folder with the lung boxes (default: the dataset's stats.json)");
  cmd->add_option("--lung-model", opt->lung_model,
                  "a `cxr lungs train` segmenter: images without lung boxes are measured against its mask, "
                  "not the adult prior")
      ->check(CLI::ExistingFile);
  cmd->add_option("--batch", opt->batch, "images per forward pass")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--threads", opt->threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--device", opt->device, kDeviceHelp)->capture_default_str();
  cmd->callback([opt] { run_eval(*opt); });
}

}  // namespace cxr::cli
