// The depthwise-separable CNN family of CXR: the network a NetConfig describes
// (models/net_config.h) over the engine's layers. The `cxr-small` and `kaggle-sep`
// presets (models/presets.h) are two configurations of it.
//
// Parameter names match the PyTorch reference (tests/reference/reference_net.py):
// stem_conv, stem_bn, blocks.<i>.{depthwise,bn1,pointwise,bn2 | conv,bn}, hidden,
// classifier; so weights move between the two through safetensors.
//
// In evaluation mode without a graph on the CPU, every batch norm is folded into
// the convolution before it and the ReLU fused (conv2d_relu): one pass per activation.
#pragma once

#include "engine/nn/layers.h"
#include "models/classifier_net.h"

#include <memory>
#include <string>
#include <vector>

namespace cxr {

// The last layer of this family that stays frozen under `unfreeze` ("stem",
// "blocks.<i>"; "" when every layer trains): "last block" counts blocks with weights.
std::string last_frozen_layer(const NetConfig& config, Unfreeze unfreeze);

// One entry of NetConfig::blocks.
class NetBlock : public Module {
 public:
  virtual Tensor forward(const Tensor& x) = 0;
};

class DepthwiseSeparableNet : public ClassifierNet {
 public:
  explicit DepthwiseSeparableNet(const NetConfig& config, std::uint64_t dropout_seed = 0);

  Tensor features(const Tensor& x) override;
  Tensor head(const Tensor& features) override;

  std::vector<std::string> layer_names() const override;
  Tensor forward_until(const Tensor& x, const std::string& layer) override;
  Tensor forward_after(const Tensor& h, const std::string& layer) override;

  // The last convolutional block: the last layer that is not a max pool (kaggle-sep
  // ends in one; Grad-CAM explains the convolution's output, as in the paper).
  std::string cam_layer() const override;
  std::string last_frozen_layer(Unfreeze unfreeze) const override;
  std::vector<Module*> layer_modules(const std::string& layer) override;

 private:
  std::size_t layer_index(const std::string& layer) const;
  // Layers [begin, end) of stem, blocks.0, blocks.1, ...
  Tensor run_layers(Tensor h, std::size_t begin, std::size_t end);

  Conv2d& stem_conv_;
  BatchNorm2d* stem_bn_ = nullptr;  // null when the stem has no batch norm
  std::vector<NetBlock*> blocks_;
  Linear* hidden_ = nullptr;  // null when the head has no hidden layer
  Linear* classifier_;
};

}  // namespace cxr
