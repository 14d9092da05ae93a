// Model files: one safetensors file holding a network's parameters and buffers
// (dotted names, as the PyTorch reference) and, in its metadata, everything needed
// to rebuild and use it. A model file is self-describing: `cxr predict --model FILE`
// needs nothing else.
//
// Metadata keys (safetensors metadata values are strings):
//   format          "cxr-model"
//   format_version  "1"
//   preset          the preset the network was built from ("cxr-small", "kaggle-sep")
//   config          the NetConfig as JSON (models/net_config.h), input_size included
//   classes         JSON array of class names, index order
//   normalization   JSON {"mean": m, "std": s}: the network sees (pixel / 255 - m) / s
//                   of a grey image fitted to input_size x input_size
//   fit             "pad" or "crop": how images were fitted to a square (optional)
//   dataset_size    the side of that square, decimal (optional; it differs from
//                   input_size when the model was trained at another size)
//   split_seed      the seed of the dataset's patient-level split, decimal (optional)
//   lung_view       (in extra) "crop:0.1" / "mask:0.05" when trained on a lung-view
//                   dataset; its segmenter is <model>.lungs.safetensors beside the file,
//                   with the SHA-256 in extra "lung_model_sha256"
//   anything else   ModelInfo::extra (free-form, e.g. a model card summary)
// The optional keys are written only when known, so a file without them re-saves
// with the same header.
#pragma once

#include "engine/data/image.h"
#include "engine/nn/module.h"
#include "models/classifier_net.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cxr {

class LungViewStage;

inline constexpr const char* kModelFormat = "cxr-model";
inline constexpr int kModelFormatVersion = 1;

struct ModelInfo {
  std::string preset;                        // "cxr-small", "kaggle-sep", ...
  NetConfig config;                          // the architecture (input size included)
  std::vector<std::string> class_names;      // index -> name, e.g. covid, normal, bacterial, viral
  float mean = 0.0f, stddev = 1.0f;          // input normalisation in [0, 1] pixel units
  std::optional<data::Fit> fit;              // how images were fitted to a square; absent: pad
  std::optional<int> dataset_size;           // the side of that square; absent: config.input_size
  std::optional<std::uint64_t> split_seed;   // the training dataset's split seed, when known
  std::map<std::string, std::string> extra;  // free-form metadata (model card summary, ...)
  // The lung view the model was trained with and its segmenter (models/lung_view.h),
  // loaded by load_model when the metadata names one (extra "lung_view"); else null.
  std::shared_ptr<LungViewStage> lung_view;

  // Inference fits and resizes an image exactly as the training dataset did
  // (models/inference.h): by fit_or_pad() to fit_size(), then to the input size.
  data::Fit fit_or_pad() const { return fit.value_or(data::Fit::pad); }
  int fit_size() const { return dataset_size.value_or(config.input_size); }
};

struct LoadedModel {
  ModelInfo info;
  std::unique_ptr<ClassifierNet> net;    // in evaluation mode
  std::unique_ptr<ParameterSet> params;  // owns the flat buffers the net's tensors view
};

// Writes atomically (temp file + rename). `info.config` must be the net's
// configuration, with one class name per output; `extra` may not use the keys above.
void save_model(const std::string& path, ClassifierNet& net, const ModelInfo& info);

// Rebuilds the network from the metadata and loads its tensors; a cxr::Error names
// the file and the problem (not a CXR model, unknown format version, bad config,
// tensor names or shapes that do not match the configuration, truncated file, ...).
LoadedModel load_model(const std::string& path);

}  // namespace cxr
