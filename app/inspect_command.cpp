// `cxr inspect --image IMG`: inside the network for one X-ray (models/inspection.h).
// Prints, per layer, the activation's shape and statistics and the norm of the
// gradient of the objective (a class logit, or the loss with --label) with respect
// to it, then per parameter its values' and gradient's statistics; --json prints the
// whole inspection as JSON instead (models/inspection_json.h). --out DIR also
// writes inspection.json and, per layer, <layer>.activation.png and
// <layer>.gradient.png: montages of its feature maps and their gradients
// (models/feature_montage.h).
//
// `cxr inspect --run DIR`: the summary of a training run's telemetry
// (`cxr train --telemetry DIR`, models/telemetry_summary.h) per layer, and a
// warning line for each pathology found; --json prints it as JSON.
//
// `cxr inspect --batch-from DATA --step`: one training step on the first --batch
// training images of a built dataset (models/step_inspection.h): every op of the
// autograd graph with its times and estimated cost, and each parameter's AdamW
// update against its weight; --out DIR writes step.json and step.dot (Graphviz).
// Every op's forward and backward kernels are set against the roofline measured
// on the step's threads: the share of the attainable FLOP/s each reached.
//
// `cxr inspect --roofline`: measures this machine's roofline on --threads threads
// (models/roofline.h): peak FLOP/s and triad bandwidth; --out DIR writes roofline.json.
#include "app/commands.h"
#include "base/parallel.h"
#include "engine/io/atomic_file.h"
#include "models/device_choice.h"
#include "models/feature_montage.h"
#include "models/inference.h"
#include "models/inspection.h"
#include "models/inspection_json.h"
#include "models/roofline.h"
#include "models/step_inspection.h"
#include "models/synthetic.h"
#include "models/telemetry_summary.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <string>

namespace cxr::cli {

namespace {

struct InspectOptions {
  std::string model, image, class_name, label, out, run, batch_from;
  bool step = false, roofline = false;
  int batch = 8;
  double lr = 1e-3, weight_decay = 1e-4;
  bool json = false;
  int bins = 32, max_channels = 64, threads = 0;
  std::string device = "cpu";
};

int class_index(const std::vector<std::string>& names, const std::string& name, const char* option) {
  const auto it = std::find(names.begin(), names.end(), name);
  CXR_CHECK(it != names.end(), "{} {}: the model's classes are {}", option, name, fmt::join(names, ", "));
  return static_cast<int>(it - names.begin());
}

void print_table(const Inspection& r, const std::vector<std::string>& names) {
  fmt::print("objective: {} = {:.6g}\n",
             r.loss ? fmt::format("cross-entropy loss for label {}", names[r.target_class])
                    : fmt::format("logit of class {}", names[r.target_class]),
             r.objective);
  for (std::size_t c = 0; c < names.size(); ++c) fmt::print("  p({}) = {:.4f}\n", names[c], r.probabilities[c]);
  fmt::print("\n{:<10} {:<18} {:>10} {:>10} {:>10} {:>10} {:>7} {:>11}\n", "layer", "shape", "mean", "std", "min",
             "max", "zero%", "|dJ/dA|");
  for (const LayerInspection& l : r.layers)
    fmt::print("{:<10} {:<18} {:>10.4g} {:>10.4g} {:>10.4g} {:>10.4g} {:>6.1f}% {:>11.4g}\n", l.name,
               fmt::format("{}", fmt::join(l.shape, "x")), l.activation.mean, l.activation.std, l.activation.min,
               l.activation.max, 100 * l.activation.zero_fraction, l.gradient.norm);
  fmt::print("\n{:<32} {:<14} {:>10} {:>10} {:>11} {:>11}\n", "parameter", "shape", "mean", "std", "|w|", "|dJ/dw|");
  for (const ParameterInspection& p : r.parameters)
    fmt::print("{:<32} {:<14} {:>10.4g} {:>10.4g} {:>11.4g} {:>11.4g}\n", p.name,
               fmt::format("{}", fmt::join(p.shape, "x")), p.value.mean, p.value.std, p.value.norm, p.gradient.norm);
}

void write_pictures(const Inspection& r, const boost::json::object& json, const std::string& dir, int max_channels) {
  std::filesystem::create_directories(dir);
  const std::filesystem::path out(dir);
  for (const LayerInspection& l : r.layers) {
    const auto png = [&](const Tensor& maps, MontageColours colours, const std::string& what) {
      write_file_atomically(
          (out / fmt::format("{}.{}.png", l.name, what)).string(),
          encode_png(feature_montage(maps, colours, max_channels),
                     {{"Software", fmt::format("cxr {}", CXR_VERSION)},
                      {"Description", fmt::format("{} of layer {} ({} channels shown)", what, l.name,
                                                  std::min<std::int64_t>(maps.size(0), max_channels))}}));
    };
    png(l.activation_maps, MontageColours::magnitude, "activation");
    png(l.gradient_maps, MontageColours::signed_values, "gradient");
  }
  write_file_atomically((out / "inspection.json").string(), boost::json::serialize(json) + "\n");
}

std::string optional_number(const std::optional<double>& v) {
  return v ? fmt::format("{:.3g}", *v) : "-";
}

boost::json::value json_number(const std::optional<double>& v) {
  if (!v || !std::isfinite(*v)) return nullptr;
  return *v;
}

void inspect_run(const InspectOptions& opt) {
  const RunSummary s = summarize_telemetry(read_telemetry(opt.run));
  if (opt.json) {
    boost::json::array layers, warnings;
    for (const LayerSummary& l : s.layers)
      layers.push_back(boost::json::object{{"name", l.name},
                                           {"trainable", l.trainable},
                                           {"first_grad_norm", json_number(l.first_grad_norm)},
                                           {"last_grad_norm", json_number(l.last_grad_norm)},
                                           {"max_grad_norm", json_number(l.max_grad_norm)},
                                           {"median_grad_norm", json_number(l.median_grad_norm)},
                                           {"median_update_ratio", json_number(l.median_update_ratio)},
                                           {"median_zero_fraction", json_number(l.median_zero_fraction)},
                                           {"median_dead_channels", json_number(l.median_dead_channels)},
                                           {"last_bn_mean", json_number(l.last_bn_mean)},
                                           {"last_bn_var", json_number(l.last_bn_var)}});
    for (const TelemetryWarning& w : s.warnings)
      warnings.push_back(
          boost::json::object{{"kind", pathology_name(w.kind)}, {"layer", w.layer}, {"message", w.message}});
    fmt::print("{}\n", boost::json::serialize(boost::json::object{{"records", s.records},
                                                                  {"first_step", s.first_step},
                                                                  {"last_step", s.last_step},
                                                                  {"first_loss", json_number(s.first_loss)},
                                                                  {"last_loss", json_number(s.last_loss)},
                                                                  {"last_lr", json_number(s.last_lr)},
                                                                  {"layers", std::move(layers)},
                                                                  {"warnings", std::move(warnings)}}));
    return;
  }
  fmt::print("{} records, steps {} to {}; loss {:.4g} -> {:.4g}; lr now {:.3g}\n\n", s.records, s.first_step,
             s.last_step, s.first_loss, s.last_loss, s.last_lr);
  fmt::print("{:<10} {:>9} {:>10} {:>10} {:>10} {:>12} {:>7} {:>7} {:>9} {:>9}\n", "layer", "trainable", "|g| first",
             "|g| last", "|g| median", "update/w", "zero%", "dead%", "BN |mean|", "BN var");
  for (const LayerSummary& l : s.layers)
    fmt::print("{:<10} {:>9} {:>10} {:>10} {:>10} {:>12} {:>7} {:>7} {:>9} {:>9}\n", l.name, l.trainable ? "yes" : "no",
               optional_number(l.first_grad_norm), optional_number(l.last_grad_norm),
               optional_number(l.median_grad_norm), optional_number(l.median_update_ratio),
               l.median_zero_fraction ? fmt::format("{:.1f}", 100 * *l.median_zero_fraction) : "-",
               l.median_dead_channels ? fmt::format("{:.1f}", 100 * *l.median_dead_channels) : "-",
               optional_number(l.last_bn_mean), optional_number(l.last_bn_var));
  fmt::print("\n");
  if (s.warnings.empty()) fmt::print("no warning: gradients, update ratios and activations look healthy\n");
  for (const TelemetryWarning& w : s.warnings) fmt::print("warning: {}: {}\n", pathology_name(w.kind), w.message);
}

void print_roofline(const Roofline& r) {
  fmt::print(
      "roofline on {} thread{} ({}): peak {:.1f} GFLOP/s, triad bandwidth {:.1f} GB/s, ridge at {:.2f} FLOP/byte\n\n",
      r.threads, r.threads == 1 ? "" : "s", r.isa, r.peak_flops / 1e9, r.bandwidth / 1e9, r.ridge_intensity());
}

// The first `count` training images of the dataset with a single class each.
LabelledBatch first_training_images(const data::Dataset& ds, const ModelInfo& info, int count) {
  std::vector<Tensor> inputs;
  LabelledBatch batch;
  for (const std::int64_t i : ds.indices(data::Split::train)) {
    if (static_cast<int>(batch.labels.size()) == count) break;
    if (ds.label(i) >= static_cast<int>(info.class_names.size())) continue;  // a label set
    inputs.push_back(normalised_input(ds.pixels(i), ds.image_size(), info));
    batch.labels.push_back(ds.label(i));
  }
  CXR_CHECK(!inputs.empty(), "inspect --step: the dataset has no training image with a single class");
  const Shape one = inputs.front().shape();
  batch.images = Tensor::empty({static_cast<std::int64_t>(inputs.size()), one[1], one[2], one[3]});
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    Tensor row = batch.images.slice_rows(static_cast<std::int64_t>(k), static_cast<std::int64_t>(k) + 1);
    row.copy_(inputs[k]);
  }
  return batch;
}

void inspect_step(const InspectOptions& opt) {
  CXR_CHECK(opt.step, "inspect: --batch-from DATA needs --step (one recorded training step)");
  if (opt.threads > 0) set_num_threads(opt.threads);
  const std::string model_path = opt.model.empty() ? default_model_path() : opt.model;
  LoadedModel model = load_model(model_path);
  model.params->to(resolve_device(opt.device));
  const data::Dataset ds = data::Dataset::open(opt.batch_from);
  check_dataset_matches_model(ds, model.info, opt.batch_from, model_path);
  const LabelledBatch batch = first_training_images(ds, model.info, opt.batch);
  const StepInspection step = inspect_training_step(*model.net, *model.params, batch.images, batch.labels,
                                                    model.info.class_names, opt.lr, opt.weight_decay);
  const boost::json::object json = to_json(step);
  if (!opt.out.empty()) {
    std::filesystem::create_directories(opt.out);
    write_file_atomically((std::filesystem::path(opt.out) / "step.json").string(), boost::json::serialize(json) + "\n");
    write_file_atomically((std::filesystem::path(opt.out) / "step.dot").string(), to_dot(step));
  }
  if (opt.json) {
    fmt::print("{}\n", boost::json::serialize(json));
    return;
  }
  fmt::print("one training step on {} images: loss {:.4f}; forward {:.1f} ms, backward {:.1f} ms, AdamW {:.1f} ms\n\n",
             batch.labels.size(), step.loss, 1e3 * step.forward_seconds, 1e3 * step.backward_seconds,
             1e3 * step.optimizer_seconds);
  if (step.roofline.peak_flops > 0) print_roofline(step.roofline);  // measured on the CPU only
  fmt::print("{:>4} {:<18} {:<16} {:>8} {:>8} {:>9} {:>7} {:>8} {:>6} {:>7} {:>8} {:>6}\n", "node", "op", "output",
             "fwd ms", "bwd ms", "fwd GFLOP", "fwd AI", "GFLOP/s", "roof%", "bwd AI", "GFLOP/s", "roof%");
  const auto point_columns = [](const std::optional<RooflinePoint>& p) {
    return p ? fmt::format("{:>7.2f} {:>8.2f} {:>5.1f}%", p->intensity, p->achieved / 1e9, 100 * p->share)
             : fmt::format("{:>7} {:>8} {:>6}", "-", "-", "-");
  };
  for (const TracedNode& n : step.trace.nodes()) {
    const NodeRoofline roof = node_roofline(step, n);
    fmt::print("{:>4} {:<18} {:<16} {:>8.3f} {:>8.3f} {:>9.4f} {} {}\n", n.id, n.op,
               fmt::format("{}", fmt::join(n.output_shape, "x")), 1e3 * n.forward_seconds, 1e3 * n.backward_seconds,
               estimate_cost(n).flops_forward / 1e9, point_columns(roof.forward), point_columns(roof.backward));
  }
  fmt::print("\n{:<32} {:>11} {:>11} {:>11} {:>12}\n", "parameter", "|w|", "|g|", "|dw|", "|dw|/|w|");
  for (const ParameterUpdate& u : step.updates)
    fmt::print("{:<32} {:>11.4g} {:>11.4g} {:>11.4g} {:>12.3g}\n", u.name, u.weight_norm, u.grad_norm, u.update_norm,
               u.update_ratio);
}

void inspect_roofline(const InspectOptions& opt) {
  if (opt.threads > 0) set_num_threads(opt.threads);
  const Roofline roof = measure_roofline();
  const boost::json::object json = to_json(roof);
  if (!opt.out.empty()) {
    std::filesystem::create_directories(opt.out);
    write_file_atomically((std::filesystem::path(opt.out) / "roofline.json").string(),
                          boost::json::serialize(json) + "\n");
  }
  if (opt.json)
    fmt::print("{}\n", boost::json::serialize(json));
  else
    print_roofline(roof);
}

void run_inspect(const InspectOptions& opt) {
  if (opt.roofline) return inspect_roofline(opt);
  if (!opt.run.empty()) return inspect_run(opt);
  if (!opt.batch_from.empty()) return inspect_step(opt);
  CXR_CHECK(
      !opt.image.empty(),
      "inspect: give --image IMG (one X-ray), --run DIR (a training run's telemetry), --batch-from DATA --step or "
      "--roofline");
  if (opt.threads > 0) set_num_threads(opt.threads);
  const Device device = resolve_device(opt.device);
  LoadedModel model = load_model(opt.model.empty() ? default_model_path() : opt.model);
  model.params->to(device);
  const auto& names = model.info.class_names;
  InspectTarget target;
  if (!opt.class_name.empty()) target.class_index = class_index(names, opt.class_name, "--class");
  if (!opt.label.empty()) target.label = class_index(names, opt.label, "--label");

  const PreparedImage image = prepare_image_file(opt.image, model.info);
  const Inspection r = inspect(*model.net, *model.params, image.input, target, opt.bins);
  const boost::json::object json = to_json(r, names);
  if (!opt.out.empty()) write_pictures(r, json, opt.out, opt.max_channels);
  if (opt.json)
    fmt::print("{}\n", boost::json::serialize(json));
  else
    print_table(r, names);
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto opt = std::make_shared<InspectOptions>();
  CLI::App* cmd = app.add_subcommand(
      "inspect", "Inside the network for one X-ray: every layer's activations and gradients, every parameter");
  cmd->add_option("--model", opt->model, "model file (default: $CXR_MODEL, else the bundled cxr-small.safetensors)");
  auto* image = cmd->add_option("--image", opt->image, "JPEG or PNG chest X-ray");
  cmd->add_option("--run", opt->run, "summarise DIR/telemetry.jsonl of `cxr train --telemetry DIR` instead")
      ->excludes(image);
  cmd->add_option("--batch-from", opt->batch_from, "record one training step on this built dataset's images instead")
      ->excludes(image);
  cmd->add_flag("--step", opt->step, "with --batch-from: the training step to record");
  cmd->add_flag("--roofline", opt->roofline, "measure this machine's peak FLOP/s and memory bandwidth instead")
      ->excludes(image);
  cmd->add_option("--batch", opt->batch, "images in the recorded step")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--lr", opt->lr, "AdamW learning rate of the recorded step")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--weight-decay", opt->weight_decay, "AdamW weight decay of the recorded step")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  auto* cls =
      cmd->add_option("--class", opt->class_name, "differentiate this class's logit (default: the predicted class)");
  cmd->add_option("--label", opt->label, "differentiate the cross-entropy loss for this true class instead")
      ->excludes(cls);
  cmd->add_option("--out", opt->out, "folder for inspection.json and the feature-map montages (PNG)");
  cmd->add_flag("--json", opt->json, "print the inspection as JSON instead of tables");
  cmd->add_option("--bins", opt->bins, "histogram bins")->check(CLI::Range(1, 1024))->capture_default_str();
  cmd->add_option("--max-channels", opt->max_channels, "channels drawn per montage")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_option("--threads", opt->threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--device", opt->device, kDeviceHelp)->capture_default_str();
  cmd->callback([opt] { run_inspect(*opt); });
}

}  // namespace cxr::cli
