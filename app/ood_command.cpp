// `cxr ood fit --model FILE --data DIR`: fits the out-of-distribution gate and the
// temperature of a model (models/ood_fit.h) and writes them beside it as
// <stem>.ood.safetensors (models/ood_gate.h).
// `cxr ood eval --model FILE --data DIR --covid DIR`: measures the gate: acceptance of
// the frontal X-rays of the val and test splits, rejection of the ieee8023 images the
// data builder leaves out (CT slices and lateral views, from metadata.csv) and of
// synthetic images (models/ood_probes.h), for every score at its own threshold; the
// test split's ECE before and after temperature scaling. A Markdown table on stdout
// (docs/evaluation.md), everything in --json.
#include "app/commands.h"
#include "app/progress.h"
#include "base/parallel.h"
#include "data/labels.h"
#include "engine/data/csv.h"
#include "engine/io/atomic_file.h"
#include "models/device_choice.h"
#include "models/inference.h"
#include "models/metrics.h"
#include "models/ood_fit.h"
#include "models/ood_probes.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace cxr::cli {

namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

struct OodOptions {
  std::string model, data, covid, json, score = "combined";
  double accept_rate = 0.995;
  int batch = 32, threads = 0, probes = 20;
  std::string device = "cpu";
};

LoadedModel load_on_device(const OodOptions& opt) {
  if (opt.threads > 0) set_num_threads(opt.threads);
  LoadedModel model = load_model(opt.model);
  model.params->to(resolve_device(opt.device));
  return model;
}

void run_fit(const OodOptions& opt) {
  LoadedModel model = load_on_device(opt);
  const data::Dataset dataset = data::Dataset::open(opt.data);
  check_dataset_matches_model(dataset, model.info, opt.data, opt.model);
  Progress progress;
  const auto start = std::chrono::steady_clock::now();
  OodFitOptions options;
  options.accept_rate = opt.accept_rate;
  options.decides = *parse_ood_score(opt.score);  // CLI11 checked the name
  options.batch = opt.batch;
  const OodFitResult r = fit_ood_gate(
      model, opt.model, dataset, options,
      [&](const char* stage, std::int64_t done, std::int64_t total) { progress.update(stage, done, total); });
  const std::string path = gate_path_for(opt.model);
  save_gate(path, r.gate);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("cxr ood fit: {} ({} train images for the statistics, {} val images for the thresholds, {:.1f} s)\n",
             opt.model, r.gate.fit_images, r.gate.calibration_images, seconds);
  for (OodScore s : kOodScores)
    fmt::print("  {:<12} threshold {:.6g}{}\n", ood_score_name(s), r.gate.threshold(s),
               s == r.gate.decides ? "  (decides)" : "");
  fmt::print("  temperature {:.4f}: val NLL {:.4f} -> {:.4f}, val ECE {:.4f} -> {:.4f}\n", r.gate.temperature,
             r.temperature.nll_before, r.temperature.nll_after, r.val_ece_before, r.val_ece_after);
  fmt::print("wrote {}\n", path);
}

// One measured set: how many images, and per score how many were refused.
struct SetResult {
  std::string name;
  bool in_distribution = false;  // success = accepted; otherwise success = refused
  std::int64_t images = 0;
  std::array<std::int64_t, kOodScores.size()> refused{};
};

void count(SetResult& set, const OodGate& gate, const ModelOutputs& out) {
  for (std::int64_t i = 0; i < out.size(); ++i) {
    const OodScores s = gate.scores(out, i);
    for (std::size_t j = 0; j < kOodScores.size(); ++j) set.refused[j] += !(s.values[j] <= gate.thresholds[j]);
  }
  set.images += out.size();
}

// Outputs of images given as files or bytes, in batches; those that cannot be
// decoded are counted in `unusable` (none of the sets here has any).
template <class Prepare>
ModelOutputs outputs_of(LoadedModel& model, std::size_t n, int batch, Prepare prepare, std::int64_t& unusable) {
  ModelOutputs out;
  const int s = model.info.config.input_size;
  std::vector<Tensor> inputs;
  auto flush = [&] {
    if (inputs.empty()) return;
    Tensor x = Tensor::empty({static_cast<std::int64_t>(inputs.size()), 1, s, s});
    for (std::size_t j = 0; j < inputs.size(); ++j)
      std::memcpy(x.data<float>() + j * s * s, inputs[j].data<float>(), sizeof(float) * s * s);
    out.append(model_outputs(*model.net, x));
    inputs.clear();
  };
  for (std::size_t i = 0; i < n; ++i) {
    try {
      inputs.push_back(prepare(i).input);
    } catch (const ImageError&) {
      ++unusable;
    }
    if (static_cast<int>(inputs.size()) == batch) flush();
  }
  flush();
  return out;
}

// The ieee8023 images `cxr data build` leaves out as not frontal X-rays: CT (modality)
// and lateral X-ray views (view "L"), each file that exists.
std::pair<std::vector<std::string>, std::vector<std::string>> excluded_ieee8023(const fs::path& root) {
  const data::CsvTable table = data::read_csv(root / "metadata.csv");
  const int modality = table.column("modality"), view = table.column("view"), filename = table.column("filename"),
            folder = table.column("folder");
  CXR_CHECK(modality >= 0 && view >= 0 && filename >= 0, "{}: metadata.csv lacks modality, view or filename",
            root.string());
  std::vector<std::string> ct, lateral;
  for (const auto& row : table.rows) {
    const std::string dir = folder >= 0 && !row.fields[folder].empty() ? row.fields[folder] : "images";
    const fs::path file = root / dir / row.fields[filename];
    if (!fs::is_regular_file(file)) continue;
    if (row.fields[modality] == "CT")
      ct.push_back(file.string());
    else if (row.fields[modality] == "X-ray" && row.fields[view] == "L")
      lateral.push_back(file.string());
  }
  return {ct, lateral};
}

json::object set_to_json(const SetResult& s) {
  json::object rates;
  for (std::size_t j = 0; j < kOodScores.size(); ++j) {
    const double refused = s.images ? static_cast<double>(s.refused[j]) / s.images : 0.0;
    rates[ood_score_name(kOodScores[j])] = json::object{{"refused", s.refused[j]}, {"refused_rate", refused}};
  }
  return {{"set", s.name}, {"in_distribution", s.in_distribution}, {"images", s.images}, {"scores", rates}};
}

void run_eval(const OodOptions& opt) {
  LoadedModel model = load_on_device(opt);
  const auto gate = load_gate_for(opt.model);
  CXR_CHECK(gate.has_value(), "no OOD gate beside {} (expected {}): run cxr ood fit first", opt.model,
            gate_path_for(opt.model));
  const data::Dataset dataset = data::Dataset::open(opt.data);
  check_dataset_matches_model(dataset, model.info, opt.data, opt.model);
  Progress progress;
  std::vector<SetResult> sets;
  std::int64_t unusable = 0;
  json::object calibration;
  for (const auto& [split, name] : {std::pair{data::Split::val, "val"}, std::pair{data::Split::test, "test"}}) {
    const auto indices = dataset.indices(split);
    const ModelOutputs out =
        dataset_outputs(*model.net, model.info, dataset, indices, opt.batch, [&](std::int64_t done) {
          progress.update(fmt::format("{} split", name), done, static_cast<std::int64_t>(indices.size()));
        });
    SetResult set{fmt::format("{} split: frontal X-rays", name), true};
    count(set, *gate, out);
    sets.push_back(set);
    if (split == data::Split::test) {
      std::vector<int> targets;
      for (auto i : indices) targets.push_back(dataset.row(i).label);
      const double before = calibration_error(out.logits, targets, out.classes, 1.0);
      const double after = calibration_error(out.logits, targets, out.classes, gate->temperature);
      calibration = {{"split", "test"},
                     {"temperature", gate->temperature},
                     {"ece_before", before},
                     {"ece_after", after},
                     {"bins", kEceBins}};
    }
  }
  if (!opt.covid.empty()) {
    const auto [ct, lateral] = excluded_ieee8023(opt.covid);
    for (const auto& [files, name] :
         {std::pair{&ct, "ieee8023 CT slices"}, std::pair{&lateral, "ieee8023 lateral X-rays"}}) {
      SetResult set{name, false};
      count(set, *gate,
            outputs_of(
                model, files->size(), opt.batch,
                [&](std::size_t i) { return prepare_image_file((*files)[i], model.info); }, unusable));
      sets.push_back(set);
      progress.update(name, static_cast<std::int64_t>(files->size()), static_cast<std::int64_t>(files->size()));
    }
  }
  const auto probes = ood_probe_images(opt.probes, 0x6f6f64ULL);
  for (const auto& kind : ood_probe_kinds()) {
    std::vector<const ProbeImage*> of_kind;
    for (const auto& p : probes)
      if (p.kind == kind) of_kind.push_back(&p);
    SetResult set{"synthetic: " + kind, false};
    count(set, *gate,
          outputs_of(
              model, of_kind.size(), opt.batch,
              [&](std::size_t i) {
                const std::string& png = of_kind[i]->png;
                return prepare_image({reinterpret_cast<const std::uint8_t*>(png.data()), png.size()}, model.info);
              },
              unusable));
    sets.push_back(set);
  }

  fmt::print("\nOOD gate of {} (thresholds accept {:.1f} % of the val split; {} decides)\n\n", opt.model,
             100 * gate->accept_rate, ood_score_name(gate->decides));
  fmt::print(
      "| images | count | Mahalanobis (features) | Mahalanobis (thumbnail) | combined | energy | max-softmax |\n"
      "|---|---|---|---|---|---|---|\n");
  for (const auto& s : sets) {
    std::string row = fmt::format("| {} ({}) | {} |", s.name, s.in_distribution ? "accepted" : "refused", s.images);
    for (std::size_t j = 0; j < kOodScores.size(); ++j) {
      const double refused = s.images ? static_cast<double>(s.refused[j]) / s.images : 0.0;
      row += fmt::format(" {:.1f} % |", 100 * (s.in_distribution ? 1 - refused : refused));
    }
    fmt::print("{}\n", row);
  }
  if (!calibration.empty())
    fmt::print("\nTest split ECE ({} bins): {:.4f} before, {:.4f} after temperature scaling (T = {:.4f})\n", kEceBins,
               calibration["ece_before"].as_double(), calibration["ece_after"].as_double(), gate->temperature);
  if (unusable > 0) fmt::print("{} images could not be decoded and are not counted\n", unusable);
  if (!opt.json.empty()) {
    json::array rows;
    for (const auto& s : sets) rows.push_back(set_to_json(s));
    json::object thresholds;
    for (OodScore s : kOodScores) thresholds[ood_score_name(s)] = gate->threshold(s);
    const json::object out{{"model", opt.model},
                           {"data", opt.data},
                           {"decides", ood_score_name(gate->decides)},
                           {"accept_rate", gate->accept_rate},
                           {"thresholds", thresholds},
                           {"sets", rows},
                           {"calibration", calibration},
                           {"unusable_images", unusable},
                           {"threads", num_threads()}};
    write_file_atomically(opt.json, json::serialize(out) + "\n");
    fmt::print("wrote {}\n", opt.json);
  }
}

void add_common(CLI::App* cmd, OodOptions& opt) {
  cmd->add_option("--model", opt.model, "model file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--data", opt.data, "dataset directory (cxr data build) the model was trained on")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--batch", opt.batch, "images per forward pass")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--threads", opt.threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--device", opt.device, kDeviceHelp)->capture_default_str();
}

}  // namespace

void add_ood_command(CLI::App& app) {
  auto opt = std::make_shared<OodOptions>();
  CLI::App* ood = app.add_subcommand("ood", "Out-of-distribution gate and temperature scaling of a model");
  ood->require_subcommand(1);
  CLI::App* fit = ood->add_subcommand(
      "fit",
      "Fit the gate (train split statistics, val split thresholds) and the temperature; write <model>.ood.safetensors");
  add_common(fit, *opt);
  fit->add_option("--accept", opt->accept_rate, "share of val images each threshold accepts")
      ->check(CLI::Range(0.5, 1.0))
      ->capture_default_str();
  fit->add_option("--score", opt->score,
                  "the score that decides: combined, mahalanobis, thumbnail, energy or max_softmax")
      ->check(CLI::IsMember({"combined", "mahalanobis", "thumbnail", "energy", "max_softmax"}))
      ->capture_default_str();
  fit->callback([opt] { run_fit(*opt); });
  CLI::App* eval = ood->add_subcommand("eval", "Measure the gate: real X-rays accepted, CT/lateral/synthetic refused");
  add_common(eval, *opt);
  eval->add_option("--covid", opt->covid, "the ieee8023 folder (metadata.csv): its CT and lateral images")
      ->check(CLI::ExistingDirectory);
  eval->add_option("--probes", opt->probes, "synthetic images of each kind")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  eval->add_option("--json", opt->json, "write the results to this JSON file");
  eval->callback([opt] { run_eval(*opt); });
}

}  // namespace cxr::cli
