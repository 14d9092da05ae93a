#include "engine/io/checkpoint.h"

#include "engine/io/safetensors.h"

#include <set>

namespace cxr {

namespace {

// Every parameter and buffer of the tree, by full name.
std::vector<Module::Declared> tensors_of(Module& module) {
  std::vector<Module::Declared> all = module.parameters();
  for (auto& b : module.buffers()) all.push_back(std::move(b));
  for (const auto& d : all)
    CXR_CHECK(d.slot->defined(),
              "checkpoint: module tensor '{}' has no storage (bind the module "
              "to a ParameterSet first)",
              d.name);
  return all;
}

// "a, b, c" with at most `limit` names, then "and N more".
std::string name_list(const std::vector<std::string>& names, std::size_t limit = 8) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < limit; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > limit) out += fmt::format(" and {} more", names.size() - limit);
  return out;
}

}  // namespace

void save_checkpoint(const std::string& path, Module& module, const std::map<std::string, std::string>& metadata) {
  std::vector<std::pair<std::string, Tensor>> named;
  for (const auto& d : tensors_of(module)) named.emplace_back(d.name, d.slot->to(Device::cpu()));
  save_safetensors(path, named, metadata);
}

void load_checkpoint(const SafetensorsFile& file, Module& module) {
  const auto declared = tensors_of(module);
  std::vector<std::string> missing, unexpected, problems;
  std::set<std::string> model_names;
  for (const auto& d : declared) {
    model_names.insert(d.name);
    auto it = file.tensors.find(d.name);
    if (it == file.tensors.end()) {
      missing.push_back(d.name);
    } else if (it->second.shape() != d.slot->shape()) {
      problems.push_back(fmt::format("{}: file has {}, model expects {}", d.name, shape_str(it->second.shape()),
                                     shape_str(d.slot->shape())));
    }
  }
  for (const auto& [name, t] : file.tensors)
    if (!model_names.count(name)) unexpected.push_back(name);
  if (!missing.empty()) problems.push_back("missing from the file: " + name_list(missing));
  if (!unexpected.empty()) problems.push_back("not in the model: " + name_list(unexpected));
  if (!problems.empty()) {
    std::string message = fmt::format("checkpoint '{}' does not fit the model:", file.path);
    for (const auto& p : problems) message += "\n  " + p;
    throw Error(message);
  }
  for (const auto& d : declared) d.slot->copy_(file.tensors.at(d.name).to(d.slot->device()));
}

std::map<std::string, std::string> load_checkpoint(const std::string& path, Module& module) {
  SafetensorsFile file = load_safetensors(path);
  load_checkpoint(file, module);
  return std::move(file.metadata);
}

}  // namespace cxr
