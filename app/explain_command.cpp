// `cxr explain --image IMG --out overlay.png`: a heatmap of one image by any method
// of the registry (models/explain/registry.h; Grad-CAM by default), drawn over the X-ray at its own resolution
// (models/overlay.h). The PNG's text chunks say what it shows (class, probability,
// method, layer, model); --heatmap writes the map itself on the model's input square
// as CSV. One JSON line on stdout summarises the explanation.
// The model's OOD gate (models/ood_gate.h) stands in front: a refused image is an
// error unless --force (then marked "ood": {"refused": true, "forced": true} and in
// the PNG's text). "probability" is calibrated (temperature scaling).
#include "app/commands.h"
#include "base/parallel.h"
#include "engine/io/atomic_file.h"
#include "models/device_choice.h"
#include "models/explain/registry.h"
#include "models/gated_prediction.h"
#include "models/inference.h"
#include "models/model_outputs.h"
#include "models/overlay.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <boost/json.hpp>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>

namespace cxr::cli {

namespace {

struct ExplainOptions {
  std::string model, image, method = "gradcam", class_name, layer, out, heatmap;
  double opacity = 0.45;
  bool force = false;
  int threads = 0;
  std::string device = "cpu";
  ExplainSettings settings;
};

void run_explain(const ExplainOptions& opt) {
  if (opt.threads > 0) set_num_threads(opt.threads);
  const Device device = resolve_device(opt.device);
  const std::string model_path = opt.model.empty() ? default_model_path() : opt.model;
  LoadedModel model = load_model(model_path);
  model.params->to(device);
  const auto& names = model.info.class_names;
  int target = -1;
  if (!opt.class_name.empty()) {
    const auto it = std::find(names.begin(), names.end(), opt.class_name);
    CXR_CHECK(it != names.end(), "--class {}: the model's classes are {}", opt.class_name, fmt::join(names, ", "));
    target = static_cast<int>(it - names.begin());
  }
  const auto layers = model.net->layer_names();
  ExplainSettings settings = opt.settings;
  settings.layer = opt.layer.empty() ? model.net->cam_layer() : opt.layer;
  for (const std::string& layer : settings.layers)
    CXR_CHECK(std::find(layers.begin(), layers.end(), layer) != layers.end(), "--layers {}: the model's layers are {}",
              layer, fmt::join(layers, ", "));
  CXR_CHECK(std::find(layers.begin(), layers.end(), settings.layer) != layers.end(),
            "--layer {}: the model's layers are {}", settings.layer, fmt::join(layers, ", "));

  const PreparedImage image = prepare_image_file(opt.image, model.info);
  const auto gate = load_gate_for(model_path);
  if (!gate)
    fmt::print(stderr, "cxr explain: note: no OOD gate beside {} (expected {}): the image is not checked\n", model_path,
               gate_path_for(model_path));
  const ModelOutputs outputs = model_outputs(*model.net, image.input, gate_temperature(gate ? &*gate : nullptr));
  const GatedPrediction gated = gated_prediction(gate ? &*gate : nullptr, outputs, 0);
  CXR_CHECK(!gated.refused() || opt.force, "'{}': not_a_chest_xray: {}; --force explains it anyway", opt.image,
            refusal_message(*gated.ood));
  const Explanation h = explain_with(*model.net, image.input, opt.method, target, settings);
  const std::string layer = h.layer.empty() ? "input pixels" : h.layer;
  const std::string cls = names[h.target_class];
  const double probability = gated.probabilities[h.target_class];
  const int predicted = gated.label;
  const std::string forced = gated.refused() ? " FORCED: the OOD gate refused this image." : "";

  const Tensor heat =
      heatmap_to_source(h.map, image.geometry, model.info.fit_size(), image.source.width, image.source.height);
  const RgbImage overlay = render_overlay(image.source, heat, opt.opacity);
  const std::string description =
      fmt::format("{} heatmap of class {} (probability {:.4f}; predicted {}) at layer {}.{} Note: {}.", h.method, cls,
                  probability, names[predicted], layer, forced, kShortcutCaveat);
  write_file_atomically(opt.out,
                        encode_png(overlay, {{"Software", fmt::format("cxr {}", CXR_VERSION)},
                                             {"Description", description},
                                             {"cxr:class", cls},
                                             {"cxr:probability", fmt::format("{:.6f}", probability)},
                                             {"cxr:predicted", names[predicted]},
                                             {"cxr:method", h.method},
                                             {"cxr:layer", layer},
                                             {"cxr:model", std::filesystem::path(model_path).filename().string()},
                                             {"cxr:image", std::filesystem::path(opt.image).filename().string()}}));
  if (!opt.heatmap.empty()) write_file_atomically(opt.heatmap, heatmap_csv(h.map));

  boost::json::object line{{"image", opt.image},
                           {"method", h.method},
                           {"class", cls},
                           {"probability", probability},
                           {"predicted", names[predicted]},
                           {"layer", layer},
                           {"overlay", opt.out}};
  if (!opt.heatmap.empty()) line["heatmap"] = opt.heatmap;
  for (const auto& [name, value] : h.facts) line[name] = value;
  line["temperature"] = gated.temperature;
  line["ood"] = gated.ood ? boost::json::value(ood_to_json(*gated.ood, opt.force)) : boost::json::value(nullptr);
  fmt::print("{}\n", boost::json::serialize(line));
}

}  // namespace

void add_explain_command(CLI::App& app) {
  auto opt = std::make_shared<ExplainOptions>();
  CLI::App* cmd = app.add_subcommand(
      "explain", "Heatmap of one image (Grad-CAM and 11 other methods), drawn over the X-ray as a PNG");
  cmd->add_option("--model", opt->model, "model file (default: $CXR_MODEL, else the bundled cxr-small.safetensors)");
  cmd->add_option("--image", opt->image, "JPEG or PNG chest X-ray")->required();
  std::string methods;
  for (const ExplanationMethod& m : explanation_methods())
    methods += fmt::format("\n  {:<21}{}", m.name, m.description);
  cmd->add_option("--method", opt->method, "explanation method:" + methods)
      ->check(CLI::IsMember(explanation_method_names()))
      ->capture_default_str();
  cmd->add_option("--class", opt->class_name, "class to explain (default: the predicted class)");
  cmd->add_option("--layer", opt->layer, "layer to explain: stem, blocks.<i> (default: the last convolutional block)");
  cmd->add_option("--layers", opt->settings.layers, "layercam: the layers fused (default: the last three)");
  cmd->add_option("--steps", opt->settings.ig_steps, "integrated-gradients: steps on the path from the grey baseline")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--smoothgrad", opt->settings.smoothgrad_samples,
                  "SmoothGrad over saliency, inputxgrad or integrated-gradients: noisy samples (0: off)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--noise", opt->settings.smoothgrad_sigma, "SmoothGrad noise sd, as a share of the image's range")
      ->check(CLI::Range(0.0, 10.0))
      ->capture_default_str();
  cmd->add_option("--patch", opt->settings.occlusion_patch, "occlusion: patch side in input pixels")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--stride", opt->settings.occlusion_stride, "occlusion: patch stride in input pixels")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--out", opt->out, "overlay PNG to write")->required();
  cmd->add_option("--heatmap", opt->heatmap, "also write the map (model input size, values in [0, 1]) as CSV");
  cmd->add_flag("--force", opt->force, "also explain an image the OOD gate refuses (marked \"forced\")");
  cmd->add_option("--opacity", opt->opacity, "colour map opacity")->check(CLI::Range(0.0, 1.0))->capture_default_str();
  cmd->add_option("--threads", opt->threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--device", opt->device, kDeviceHelp)->capture_default_str();
  cmd->callback([opt] { run_explain(*opt); });
}

}  // namespace cxr::cli
