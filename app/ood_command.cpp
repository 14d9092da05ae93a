// `cxr ood fit --model FILE --data DIR [--covid DIR]`: fits the out-of-distribution
// gate and the temperature of a model (models/ood_fit.h) and writes them beside it as
// <stem>.ood.safetensors (models/ood_gate.h); with --covid, the view probe on
// ieee8023's lateral views (metadata.csv) too.
// `cxr ood eval --model FILE --data DIR --covid DIR`: measures the gate: acceptance of
// the frontal X-rays of the val and test splits, rejection of the ieee8023 images the
// data builder leaves out (CT slices and lateral views, from metadata.csv) and of
// synthetic images (models/ood_probes.h), for every score at its own threshold; the
// test split's ECE before and after temperature scaling. The lateral views the
// sidecar's view probe was fitted on are measured by patient-level k-fold instead
// (--folds): per fold, the probe refitted without that fold's patients, its and the
// combined threshold recalibrated on the val split, the fold's laterals counted. A Markdown table on stdout
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
#include <map>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

namespace cxr::cli {

namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

struct OodOptions {
  std::string model, data, covid, json, score = "combined";
  double accept_rate = 0.995;
  int batch = 32, threads = 0, probes = 20, folds = 5;
  std::string device = "cpu";
};

LoadedModel load_on_device(const OodOptions& opt) {
  if (opt.threads > 0) set_num_threads(opt.threads);
  LoadedModel model = load_model(opt.model);
  model.params->to(resolve_device(opt.device));
  return model;
}

// One measured set: how many images, and per score how many were refused.
struct SetResult {
  std::string name;
  bool in_distribution = false;  // success = accepted; otherwise success = refused
  std::int64_t images = 0;
  std::array<std::int64_t, kOodScores.size()> refused{};
};

void count_rows(SetResult& set, const OodGate& gate, const ModelOutputs& out, std::span<const std::int64_t> rows) {
  for (auto i : rows) {
    const OodScores s = gate.scores(out, i);
    for (std::size_t j = 0; j < kOodScores.size(); ++j) set.refused[j] += !(s.values[j] <= gate.thresholds[j]);
  }
  set.images += static_cast<std::int64_t>(rows.size());
}

std::vector<std::int64_t> all_rows(const ModelOutputs& out) {
  std::vector<std::int64_t> rows(static_cast<std::size_t>(out.size()));
  std::iota(rows.begin(), rows.end(), 0);
  return rows;
}

void count(SetResult& set, const OodGate& gate, const ModelOutputs& out) {
  count_rows(set, gate, out, all_rows(out));
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
// and lateral X-ray views (view "L"), each file that exists, with its patient.
struct ExcludedImages {
  std::vector<std::string> ct, lateral, lateral_patients;
};

ExcludedImages excluded_ieee8023(const fs::path& root) {
  const data::CsvTable table = data::read_csv(root / "metadata.csv");
  const int modality = table.column("modality"), view = table.column("view"), filename = table.column("filename"),
            folder = table.column("folder"), patient = table.column("patientid");
  CXR_CHECK(modality >= 0 && view >= 0 && filename >= 0 && patient >= 0,
            "{}: metadata.csv lacks modality, view, filename or patientid", root.string());
  ExcludedImages out;
  for (const auto& row : table.rows) {
    const std::string dir = folder >= 0 && !row.fields[folder].empty() ? row.fields[folder] : "images";
    const fs::path file = root / dir / row.fields[filename];
    if (!fs::is_regular_file(file)) continue;
    if (row.fields[modality] == "CT") {
      out.ct.push_back(file.string());
    } else if (row.fields[modality] == "X-ray" && row.fields[view] == "L") {
      out.lateral.push_back(file.string());
      out.lateral_patients.push_back(row.fields[patient]);
    }
  }
  return out;
}

ModelOutputs file_outputs(LoadedModel& model, const std::vector<std::string>& files, int batch,
                          std::int64_t& unusable) {
  return outputs_of(
      model, files.size(), batch, [&](std::size_t i) { return prepare_image_file(files[i], model.info); }, unusable);
}

void run_fit(const OodOptions& opt) {
  LoadedModel model = load_on_device(opt);
  const data::Dataset dataset = data::Dataset::open(opt.data);
  check_dataset_matches_model(dataset, model.info, opt.data, opt.model);
  Progress progress;
  const auto start = std::chrono::steady_clock::now();
  OodFitOptions options;
  if (!opt.covid.empty()) {
    std::int64_t unusable = 0;
    options.laterals = file_outputs(model, excluded_ieee8023(opt.covid).lateral, opt.batch, unusable);
    CXR_CHECK(unusable == 0, "{} lateral views in {} could not be decoded", unusable, opt.covid);
  }
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
  if (!r.gate.view.empty())
    fmt::print("  view probe: {} lateral views, {} Newton steps\n", options.laterals.size(), r.gate.view.iterations);
  for (OodScore s : kOodScores)
    fmt::print("  {:<12} threshold {:.6g}{}\n", ood_score_name(s), r.gate.threshold(s),
               s == r.gate.decides ? "  (decides)" : "");
  fmt::print("  temperature {:.4f}: val NLL {:.4f} -> {:.4f}, val ECE {:.4f} -> {:.4f}\n", r.gate.temperature,
             r.temperature.nll_before, r.temperature.nll_after, r.val_ece_before, r.val_ece_after);
  fmt::print("wrote {}\n", path);
}

// The lateral views by patient-level k-fold: patients sorted by id, fold = position
// mod k; per fold the view probe is refitted on the training frontals and the other
// folds' laterals, the thresholds recalibrated on the val split, and the fold's
// laterals counted. Returns the pooled set; one JSON object per fold in `folds_out`.
SetResult lateral_folds_result(const OodGate& gate, const ModelOutputs& frontal, const ModelOutputs& val,
                               const ModelOutputs& laterals, const std::vector<std::string>& patients, int k,
                               json::array& folds_out) {
  std::map<std::string, int> fold_of;
  for (const auto& p : patients) fold_of[p] = 0;
  int position = 0;
  for (auto& [patient, fold] : fold_of) fold = position++ % k;
  const std::vector<double> frontal_rows = view_rows(frontal, all_rows(frontal));
  const int width = frontal.features + kThumbnailSide * kThumbnailSide;
  SetResult pooled{fmt::format("ieee8023 lateral X-rays ({}-fold by patient)", k), false};
  for (int f = 0; f < k; ++f) {
    std::vector<std::int64_t> held_out, fitted;
    for (std::int64_t i = 0; i < laterals.size(); ++i) (fold_of.at(patients[i]) == f ? held_out : fitted).push_back(i);
    if (held_out.empty()) continue;
    OodGate fold_gate = gate;
    fold_gate.view = fit_view_probe(frontal_rows, view_rows(laterals, fitted), width);
    calibrate_thresholds(fold_gate, val, gate.accept_rate);
    SetResult fold{"fold", false};
    count_rows(fold, fold_gate, laterals, held_out);
    count_rows(pooled, fold_gate, laterals, held_out);
    int fold_patients = 0;
    for (const auto& [patient, of] : fold_of) fold_patients += of == f;
    const auto refused = [&](OodScore s) {
      return fold.refused[static_cast<std::size_t>(s)];
    };
    folds_out.push_back(json::object{{"fold", f},
                                     {"images", fold.images},
                                     {"patients", fold_patients},
                                     {"laterals_fitted", fitted.size()},
                                     {"view_refused", refused(OodScore::view)},
                                     {"combined_refused", refused(OodScore::combined)},
                                     {"view_threshold", fold_gate.threshold(OodScore::view)}});
  }
  return pooled;
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
  ModelOutputs val_out;
  for (const auto& [split, name] : {std::pair{data::Split::val, "val"}, std::pair{data::Split::test, "test"}}) {
    const auto indices = dataset.indices(split);
    ModelOutputs out = dataset_outputs(*model.net, model.info, dataset, indices, opt.batch, [&](std::int64_t done) {
      progress.update(fmt::format("{} split", name), done, static_cast<std::int64_t>(indices.size()));
    });
    SetResult set{fmt::format("{} split: frontal X-rays", name), true};
    count(set, *gate, out);
    sets.push_back(set);
    if (split == data::Split::val) val_out = std::move(out);
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
  json::array lateral_folds;
  if (!opt.covid.empty()) {
    const ExcludedImages excluded = excluded_ieee8023(opt.covid);
    SetResult ct{"ieee8023 CT slices", false};
    count(ct, *gate, file_outputs(model, excluded.ct, opt.batch, unusable));
    sets.push_back(ct);
    const ModelOutputs laterals = file_outputs(model, excluded.lateral, opt.batch, unusable);
    progress.update("ieee8023 CT and lateral", 1, 1);
    if (gate->view.empty()) {
      SetResult set{"ieee8023 lateral X-rays", false};
      count(set, *gate, laterals);
      sets.push_back(set);
    } else {
      const auto train = dataset.indices(data::Split::train);
      std::vector<std::int64_t> frontal_indices;
      for (auto p : view_probe_frontals(static_cast<std::int64_t>(train.size()))) frontal_indices.push_back(train[p]);
      const ModelOutputs frontal = dataset_outputs(*model.net, model.info, dataset, frontal_indices, opt.batch);
      sets.push_back(
          lateral_folds_result(*gate, frontal, val_out, laterals, excluded.lateral_patients, opt.folds, lateral_folds));
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
      "| images | count | Mahalanobis (features) | Mahalanobis (thumbnail) | Mahalanobis (statistics) | view probe | "
      "combined | energy | max-softmax |\n"
      "|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& s : sets) {
    std::string row = fmt::format("| {} ({}) | {} |", s.name, s.in_distribution ? "accepted" : "refused", s.images);
    for (std::size_t j = 0; j < kOodScores.size(); ++j) {
      const double refused = s.images ? static_cast<double>(s.refused[j]) / s.images : 0.0;
      row += fmt::format(" {:.1f} % |", 100 * (s.in_distribution ? 1 - refused : refused));
    }
    fmt::print("{}\n", row);
  }
  for (const auto& f : lateral_folds) {
    const auto& o = f.as_object();
    fmt::print("{}lateral fold {}: {} views of {} patients, view probe refuses {}, combined {}\n",
               &f == &lateral_folds.front() ? "\n" : "", o.at("fold").as_int64(), o.at("images").as_int64(),
               o.at("patients").as_int64(), o.at("view_refused").as_int64(), o.at("combined_refused").as_int64());
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
                           {"lateral_folds", lateral_folds},
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
                  "the score that decides: combined, mahalanobis, thumbnail, statistics, view, energy or max_softmax")
      ->check(CLI::IsMember({"combined", "mahalanobis", "thumbnail", "statistics", "view", "energy", "max_softmax"}))
      ->capture_default_str();
  fit->add_option("--covid", opt->covid, "the ieee8023 folder (metadata.csv): fit the view probe on its lateral views")
      ->check(CLI::ExistingDirectory);
  fit->callback([opt] { run_fit(*opt); });
  CLI::App* eval = ood->add_subcommand("eval", "Measure the gate: real X-rays accepted, CT/lateral/synthetic refused");
  add_common(eval, *opt);
  eval->add_option("--covid", opt->covid, "the ieee8023 folder (metadata.csv): its CT and lateral images")
      ->check(CLI::ExistingDirectory);
  eval->add_option("--probes", opt->probes, "synthetic images of each kind")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  eval->add_option("--folds", opt->folds, "patient folds for the lateral views when the gate has a view probe")
      ->check(CLI::Range(2, 20))
      ->capture_default_str();
  eval->add_option("--json", opt->json, "write the results to this JSON file");
  eval->callback([opt] { run_eval(*opt); });
}

}  // namespace cxr::cli
