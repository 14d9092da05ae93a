#include "models/classifier_net.h"

#include "base/check.h"

#include <algorithm>
#include <set>

namespace cxr {

std::string unfreeze_name(Unfreeze u) {
  switch (u) {
    case Unfreeze::all: return "all";
    case Unfreeze::last_3_blocks: return "last_3_blocks";
    case Unfreeze::last_block: return "last_block";
    case Unfreeze::head: return "head";
  }
  return "?";
}

std::optional<Unfreeze> parse_unfreeze(const std::string& name) {
  for (Unfreeze u : {Unfreeze::all, Unfreeze::last_3_blocks, Unfreeze::last_block, Unfreeze::head})
    if (unfreeze_name(u) == name) return u;
  return std::nullopt;
}

std::int64_t ClassifierNet::first_trainable_offset(const ParameterSet& params, Unfreeze unfreeze) {
  const std::string last_frozen = last_frozen_layer(unfreeze);
  if (last_frozen.empty()) return 0;
  const auto layers = layer_names();
  const auto end = std::find(layers.begin(), layers.end(), last_frozen);
  CXR_CHECK(end != layers.end(), "train: no layer '{}' to freeze up to", last_frozen);
  // The frozen parameters, known by their module slots (the names are the net's business).
  std::set<const Tensor*> frozen;
  for (auto layer = layers.begin(); layer != end + 1; ++layer)
    for (Module* m : layer_modules(*layer))
      for (const auto& p : m->parameters()) frozen.insert(p.slot);

  const auto declared = parameters();  // the order of params.parameters()
  CXR_CHECK(declared.size() == params.parameters().size(), "train: the parameter set is not this network's");
  std::int64_t first = params.count();
  bool trainable_seen = false;
  for (std::size_t i = 0; i < declared.size(); ++i) {
    const bool trainable = !frozen.count(declared[i].slot);
    CXR_CHECK(trainable || !trainable_seen, "train: frozen parameter '{}' after trainable ones", declared[i].name);
    if (trainable && !trainable_seen) first = params.parameters()[i].offset;
    trainable_seen = trainable_seen || trainable;
  }
  return first;
}

}  // namespace cxr
