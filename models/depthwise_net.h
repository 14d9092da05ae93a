// The depthwise-separable CNN family of CXR (MobileNet-style, Howard et al. 2017).
//
//   stem:   conv 3x3 stride 2 (in -> stem) + BN + ReLU
//   blocks: depthwise 3x3 (stride s) + BN + ReLU, pointwise 1x1 + BN + ReLU
//   head:   global average pool, dropout, linear -> classes
//
// Parameter names match the PyTorch reference (tests/reference/reference_net.py),
// so weights move between the two through safetensors.
#pragma once

#include "engine/nn/layers.h"
#include "engine/random.h"

#include <memory>
#include <string>
#include <vector>

namespace cxr {

struct NetConfig {
  struct Block {
    int out_channels;
    int stride;
  };
  int in_channels = 1;
  int stem_channels = 32;
  std::vector<Block> blocks;
  int num_classes = 4;
  double dropout = 0.3;
  int input_size = 224;

  // The reference net of the engine benchmarks and the `cxr-small` preset.
  static NetConfig cxr_small(int num_classes = 4);
  // Every channel count multiplied by `width` (at least 1): for fast tests.
  NetConfig narrowed(double width) const;
};

class SeparableBlock : public Module {
 public:
  SeparableBlock(int in_channels, int out_channels, int stride);
  Tensor forward(const Tensor& x);

  Conv2d& depthwise;
  BatchNorm2d& bn1;
  Conv2d& pointwise;
  BatchNorm2d& bn2;
};

class DepthwiseSeparableNet : public Module {
 public:
  explicit DepthwiseSeparableNet(const NetConfig& config, std::uint64_t dropout_seed = 0);

  // x [N, in, H, W] -> logits [N, classes].
  Tensor forward(const Tensor& x);
  // The last block's output [N, C, h, w]: the feature map Grad-CAM explains.
  Tensor features(const Tensor& x);
  // features -> logits.
  Tensor head(const Tensor& features);

  const NetConfig& config() const { return config_; }

 private:
  NetConfig config_;
  Conv2d& stem_conv_;
  BatchNorm2d& stem_bn_;
  std::vector<SeparableBlock*> blocks_;
  Linear* classifier_;
  Generator dropout_gen_;
};

}  // namespace cxr
