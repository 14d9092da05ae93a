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
//   anything else   ModelInfo::extra (free-form, e.g. a model card summary)
#pragma once

#include "engine/nn/module.h"
#include "models/classifier_net.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace cxr {

inline constexpr const char* kModelFormat = "cxr-model";
inline constexpr int kModelFormatVersion = 1;

struct ModelInfo {
  std::string preset;                      // "cxr-small", "kaggle-sep", ...
  NetConfig config;                        // the architecture (input size included)
  std::vector<std::string> class_names;    // index -> name, e.g. covid, normal, bacterial, viral
  float mean = 0.0f, stddev = 1.0f;        // input normalisation in [0, 1] pixel units
  std::map<std::string, std::string> extra;  // free-form metadata (model card summary, ...)
};

struct LoadedModel {
  ModelInfo info;
  std::unique_ptr<ClassifierNet> net;      // in evaluation mode
  std::unique_ptr<ParameterSet> params;    // owns the flat buffers the net's tensors view
};

// Writes atomically (temp file + rename). `info.config` must be the net's
// configuration, with one class name per output; `extra` may not use the keys above.
void save_model(const std::string& path, ClassifierNet& net, const ModelInfo& info);

// Rebuilds the network from the metadata and loads its tensors; a cxr::Error names
// the file and the problem (not a CXR model, unknown format version, bad config,
// tensor names or shapes that do not match the configuration, truncated file, ...).
LoadedModel load_model(const std::string& path);

}  // namespace cxr
