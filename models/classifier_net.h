// What training, evaluation and explanation need from an image classifier, by role,
// so that none of them knows how a network names its parameters:
//   feature extractor  features(), split into named layers where the forward pass
//                      can stop and resume (forward_until / forward_after)
//   head               head(): the extractor's output -> logits
//   Grad-CAM layer     cam_layer(): the layer explained by default
//   trainable groups   what `cxr train --unfreeze` names: last_frozen_layer() says
//                      where freezing stops, layer_modules() which modules hold a
//                      layer's weights
#pragma once

#include "engine/nn/module.h"
#include "engine/random.h"
#include "models/net_config.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cxr {

// Which layers a fine-tune trains: the head (global pooling, hidden and classifier
// layers), the last block with weights and the head, the last three such blocks and
// the head, or everything.
enum class Unfreeze { all, last_3_blocks, last_block, head };
std::string unfreeze_name(Unfreeze u);  // "all", "last_3_blocks", "last_block", "head"
std::optional<Unfreeze> parse_unfreeze(const std::string& name);

class ClassifierNet : public Module {
 public:
  ClassifierNet(NetConfig config, std::uint64_t dropout_seed)
      : config_(std::move(config)), dropout_gen_(dropout_seed) {}

  // x [N, in, H, W] -> the last layer's output [N, C, h, w].
  virtual Tensor features(const Tensor& x) = 0;
  // features -> logits [N, classes].
  virtual Tensor head(const Tensor& features) = 0;
  Tensor forward(const Tensor& x) { return head(features(x)); }

  // The layers in forward order, e.g. "stem", "blocks.0", ...; the last one is
  // what features() returns.
  virtual std::vector<std::string> layer_names() const = 0;
  // The activation after `layer`, and from such an activation to the logits:
  // forward_after(forward_until(x, l), l) == forward(x) for every layer l.
  virtual Tensor forward_until(const Tensor& x, const std::string& layer) = 0;
  virtual Tensor forward_after(const Tensor& h, const std::string& layer) = 0;

  // The layer Grad-CAM explains when none is named (one of layer_names()).
  virtual std::string cam_layer() const = 0;

  // The last layer that stays frozen when fine-tuning `unfreeze`; "" when every
  // layer trains.
  virtual std::string last_frozen_layer(Unfreeze unfreeze) const = 0;
  // The modules whose parameters belong to `layer` (one of layer_names()); every
  // parameter not in some layer belongs to the head.
  virtual std::vector<Module*> layer_modules(const std::string& layer) = 0;

  // The offset in `params` (this net's flat buffer) from which parameters train
  // under `unfreeze`: the frozen layers' parameters must all come first in
  // declaration order (throws cxr::Error naming the first one that does not).
  std::int64_t first_trainable_offset(const ParameterSet& params, Unfreeze unfreeze);

  const NetConfig& config() const { return config_; }
  // Draws the dropout masks; its state goes into training checkpoints.
  Generator& dropout_generator() { return dropout_gen_; }

 private:
  NetConfig config_;
  Generator dropout_gen_;
};

}  // namespace cxr
