// Module checkpoints: every parameter and buffer of a module tree, under its dotted
// name ("blocks.2.pointwise.weight"), in one safetensors file. The names are those of
// the PyTorch reference, so the same file loads into either.
#pragma once

#include "engine/nn/module.h"

#include <map>
#include <string>

namespace cxr {

struct SafetensorsFile;

// The module must be bound to a ParameterSet (its tensors exist), on any device.
void save_checkpoint(const std::string& path, Module& module, const std::map<std::string, std::string>& metadata = {});

// Copies every parameter and buffer of `module` from the file, converting the file's
// dtype to the model's. The file must hold exactly the module's names with the
// module's shapes; otherwise a cxr::Error lists every missing, unexpected and
// mis-shaped tensor and the module is left unchanged. Returns the file's metadata.
std::map<std::string, std::string> load_checkpoint(const std::string& path, Module& module);
void load_checkpoint(const SafetensorsFile& file, Module& module);

}  // namespace cxr
