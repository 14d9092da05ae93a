// `cxr eval --data DIR --model FILE [--split test] [--json out.json]`: the model on
// one split of a built dataset (models/metrics.h): a table on the console, and in
// the JSON everything, including every image's probabilities and the accuracy by
// source (which exposes a model that tells the datasets apart).
#include "engine/autograd.h"
#include "engine/data/augment.h"
#include "engine/data/dataset.h"
#include "engine/data/labels.h"
#include "engine/io/atomic_file.h"
#include "engine/ops.h"
#include "engine/parallel.h"
#include "models/cli/commands.h"
#include "models/device_choice.h"
#include "models/cli/progress.h"
#include "models/inference.h"
#include "models/metrics.h"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>

namespace cxr::cli {

namespace {

namespace json = boost::json;

struct EvalOptions {
  std::string data, model, split = "test", json;
  int batch = 32;
  int threads = 0;
  std::string device = "cpu";
};

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
  const int s = dataset.image_size();
  std::vector<double> probabilities;
  std::vector<int> labels;
  Progress progress;
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t begin = 0; begin < indices.size(); begin += opt.batch) {
    const std::size_t n = std::min(indices.size() - begin, static_cast<std::size_t>(opt.batch));
    Tensor batch = Tensor::empty({static_cast<std::int64_t>(n), 1, s, s});
    for (std::size_t j = 0; j < n; ++j) {
      const std::int64_t i = indices[begin + j];
      data::normalize_image(batch.data<float>() + j * s * s, dataset.pixels(i), std::int64_t{s} * s,
                            model.info.mean, model.info.stddev);
      labels.push_back(dataset.label(i));
    }
    if (s != model.info.config.input_size) {  // trained at another size: resized as the trainer does
      NoGradGuard no_grad;
      batch = resize_bilinear(batch, model.info.config.input_size, model.info.config.input_size);
    }
    for (const auto& p : predict_probabilities(*model.net, batch)) probabilities.insert(probabilities.end(), p.begin(), p.end());
    progress.update("eval", static_cast<std::int64_t>(begin + n), static_cast<std::int64_t>(indices.size()));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const ClassificationReport report = classification_report(probabilities, labels, model.info.class_names);
  const std::vector<int> predicted = predictions_from(probabilities, k);

  // By source: ieee8023 holds every COVID-19 image (adults), Kermany every normal one
  // (children); a model that learned the source instead of the disease calls the
  // ieee8023 bacterial and viral images COVID-19, which these matrices show.
  std::map<std::string, std::pair<std::vector<int>, std::vector<int>>> by_source;  // labels, predictions
  json::array images;
  for (std::size_t j = 0; j < indices.size(); ++j) {
    const auto& row = dataset.row(indices[j]);
    auto& [source_labels, source_predicted] = by_source[std::string(data::source_name(row.source))];
    source_labels.push_back(labels[j]);
    source_predicted.push_back(predicted[j]);
    json::array p;
    for (int c = 0; c < k; ++c) p.push_back(probabilities[j * k + c]);
    images.push_back(json::object{{"id", row.id},
                                  {"source", data::source_name(row.source)},
                                  {"source_path", row.source_path},
                                  {"label", model.info.class_names[labels[j]]},
                                  {"predicted", model.info.class_names[predicted[j]]},
                                  {"probabilities", std::move(p)}});
  }

  fmt::print("cxr eval: {} on the {} split of {} ({} images, {:.1f} s, {:.0f} images/s, {} threads, {})\n\n",
             opt.model, opt.split, opt.data, report.count, seconds, report.count / seconds, num_threads(),
             device.str());
  fmt::print("{}\n", format_report(report));
  json::object sources;
  for (const auto& [name, lp] : by_source) {
    const ClassificationReport r =
        report_from_confusion(confusion_matrix(lp.first, lp.second, k), model.info.class_names);
    fmt::print("{} images: {}, accuracy {:.3f}; confusion matrix (rows: true class):\n  {:<12}{:>10}\n", name,
               r.count, r.accuracy, "", fmt::join(model.info.class_names, ""));
    for (std::size_t t = 0; t < r.confusion.size(); ++t)
      fmt::print("  {:<12}{:>10}\n", model.info.class_names[t], fmt::join(r.confusion[t], ""));
    json::array confusion;
    for (const auto& row : r.confusion) confusion.push_back(json::value_from(row));
    sources[name] = json::object{{"images", r.count}, {"accuracy", r.accuracy}, {"confusion_matrix", confusion}};
  }
  fmt::print("\nNote: {}.\n", kShortcutCaveat);

  if (!opt.json.empty()) {
    json::object out{{"model", opt.model},
                     {"preset", model.info.preset},
                     {"data", opt.data},
                     {"manifest_sha256", dataset.manifest_sha256()},
                     {"split", opt.split},
                     {"metrics", report_to_json(report)},
                     {"by_source", std::move(sources)},
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
  CLI::App* cmd = app.add_subcommand(
      "eval", "Evaluate a model on a split of a built dataset: per-class precision, recall, F1, AUC, "
              "confusion matrix, calibration");
  cmd->add_option("--data", opt->data, "dataset directory (cxr data build)")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--model", opt->model, "model file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--split", opt->split, "train, val or test")
      ->check(CLI::IsMember({"train", "val", "test"}))
      ->capture_default_str();
  cmd->add_option("--json", opt->json, "write everything (metrics, per-image probabilities) to this JSON file");
  cmd->add_option("--batch", opt->batch, "images per forward pass")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--threads", opt->threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--device", opt->device, kDeviceHelp)->capture_default_str();
  cmd->callback([opt] { run_eval(*opt); });
}

}  // namespace cxr::cli
