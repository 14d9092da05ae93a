// What training, evaluation and explanation need from an image classifier: the
// logits, the split into a feature extractor and a head, and named layers where
// the forward pass can stop and resume (Grad-CAM explains any of them).
#pragma once

#include "engine/nn/module.h"
#include "engine/random.h"
#include "models/net_config.h"

#include <string>
#include <vector>

namespace cxr {

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

  const NetConfig& config() const { return config_; }
  // Draws the dropout masks; its state goes into training checkpoints.
  Generator& dropout_generator() { return dropout_gen_; }

 private:
  NetConfig config_;
  Generator dropout_gen_;
};

}  // namespace cxr
