// `cxr predict [--model FILE] IMAGE...`: one JSON object per line and image,
//   {"image": "<path>", "label": "<class>", "probabilities": {"covid": p, ...}}
// or, for a file that cannot be used, {"image": "<path>", "error": "<code>", "detail": "..."}
// (codes: unreadable_file, corrupt_image, image_too_large, image_too_small).
// The other images are still predicted; the exit status is 1 when any failed.
// Without --model: $CXR_MODEL, else the bundled cxr-small.safetensors.
// The model's OOD gate (models/ood_gate.h, the .ood.safetensors beside it) stands in
// front: a refused image is {"image": .., "error": "not_a_chest_xray", "detail": ..,
// "score": .., "threshold": ..} (a failure) unless --force, which prints the prediction
// with "ood": {"refused": true, "forced": true}. Probabilities are calibrated
// (temperature scaling); "logits" are the raw ones.
#include "app/commands.h"
#include "base/parallel.h"
#include "models/device_choice.h"
#include "models/gated_prediction.h"
#include "models/inference.h"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cxr::cli {

namespace {

constexpr int kBatch = 16;  // images per forward pass: bounded memory for long lists

struct PredictOptions {
  std::string model;
  std::vector<std::string> images;
  int threads = 0;
  std::string device = "cpu";
  bool force = false;
};

void run_predict(const PredictOptions& opt) {
  if (opt.threads > 0) set_num_threads(opt.threads);
  const Device device = resolve_device(opt.device);
  const std::string model_path = opt.model.empty() ? default_model_path() : opt.model;
  LoadedModel model = load_model(model_path);
  model.params->to(device);
  const auto gate = load_gate_for(model_path);
  if (!gate)
    fmt::print(stderr, "cxr predict: note: no OOD gate beside {} (expected {}): every image is answered\n", model_path,
               gate_path_for(model_path));
  const auto& names = model.info.class_names;
  int failures = 0;
  for (std::size_t begin = 0; begin < opt.images.size(); begin += kBatch) {
    const std::size_t end = std::min(opt.images.size(), begin + kBatch);
    std::vector<std::optional<Tensor>> inputs;
    std::vector<std::pair<std::string, std::string>> errors;  // code, detail
    std::vector<Tensor> good;
    for (std::size_t i = begin; i < end; ++i) {
      try {
        inputs.push_back(prepare_image_file(opt.images[i], model.info).input);
        errors.emplace_back();
        good.push_back(*inputs.back());
      } catch (const ImageError& e) {
        inputs.emplace_back();
        errors.emplace_back(e.code(), e.detail());
      }
    }
    ModelOutputs outputs;
    if (!good.empty()) {
      const int s = model.info.config.input_size;
      Tensor batch = Tensor::empty({static_cast<std::int64_t>(good.size()), 1, s, s});
      for (std::size_t j = 0; j < good.size(); ++j)
        std::copy_n(good[j].data<float>(), s * s, batch.data<float>() + j * s * s);
      outputs = model_outputs(*model.net, batch, gate_temperature(gate ? &*gate : nullptr));
    }
    std::size_t next = 0;
    for (std::size_t i = begin; i < end; ++i) {
      boost::json::object line;
      line["image"] = opt.images[i];
      if (!inputs[i - begin]) {
        line["error"] = errors[i - begin].first;
        line["detail"] = errors[i - begin].second;
        ++failures;
      } else {
        const auto j = static_cast<std::int64_t>(next++);
        const GatedPrediction p = gated_prediction(gate ? &*gate : nullptr, outputs, j);
        if (p.refused() && !opt.force) {
          line["error"] = "not_a_chest_xray";
          line["detail"] = refusal_message(*p.ood) + "; --force shows it anyway";
          line["score"] = p.ood->value;
          line["threshold"] = p.ood->threshold;
          ++failures;
        } else {
          line["label"] = names[p.label];
          boost::json::object by_class, logits;
          for (std::size_t c = 0; c < names.size(); ++c) {
            by_class[names[c]] = p.probabilities[c];
            logits[names[c]] = p.logits[c];
          }
          line["probabilities"] = std::move(by_class);
          line["logits"] = std::move(logits);
          line["temperature"] = p.temperature;
          line["ood"] = p.ood ? boost::json::value(ood_to_json(*p.ood, opt.force)) : boost::json::value(nullptr);
        }
      }
      fmt::print("{}\n", boost::json::serialize(line));
    }
    std::fflush(stdout);
  }
  if (failures > 0) {
    fmt::print(stderr, "cxr predict: {} of {} images could not be used\n", failures, opt.images.size());
    throw CLI::RuntimeError(1);
  }
}

}  // namespace

void add_predict_command(CLI::App& app) {
  auto opt = std::make_shared<PredictOptions>();
  CLI::App* cmd = app.add_subcommand("predict",
                                     "Classify chest X-ray images (JPEG/PNG, any size): one JSON line per image. "
                                     "Research software, not a medical device.");
  cmd->add_option("--model", opt->model, "model file (default: $CXR_MODEL, else the bundled cxr-small.safetensors)");
  cmd->add_option("images", opt->images, "image files")->required();
  cmd->add_option("--threads", opt->threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--device", opt->device, kDeviceHelp)->capture_default_str();
  cmd->add_flag("--force", opt->force, "also answer images the OOD gate refuses (marked \"forced\")");
  cmd->callback([opt] { run_predict(*opt); });
}

}  // namespace cxr::cli
