// A small U-Net (Ronneberger et al. 2015) for CT infection segmentation, with a
// depthwise-separable encoder and decoder in the spirit of the classifier
// (MobileNet's blocks: a 3x3 depthwise convolution, then a 1x1 pointwise one, each
// followed by batch norm and ReLU).
//
//   stem   3x3 conv 1 -> w0, BN, ReLU                      at S x S
//   down i max pool 2, separable block w(i-1) -> w(i)     at S / 2^i, i = 1..levels
//   up i   bilinear 2x upsampling, concat with the encoder's map of that size,
//          separable block -> w(i-1)
//   head   1x1 conv w0 -> classes (logits; sigmoid gives each class's probability)
//
// The output has one channel per foreground class: 1 for the binary infection mask,
// 2 (ground-glass, consolidation) for the multi-class task, which are disjoint, so a
// pixel's label is the likelier class where its probability passes 0.5.
#pragma once

#include "engine/nn/layers.h"

#include <memory>
#include <string>
#include <vector>

namespace cxr {

struct SegNetConfig {
  int input_size = 128;                         // S: slices are resampled to S x S
  std::vector<int> widths = {16, 32, 64, 128};  // w0 (stem) .. w(levels)
  int classes = 1;
};

// depthwise 3x3 + BN + ReLU, pointwise 1x1 + BN + ReLU.
class SeparableBlock : public Module {
 public:
  SeparableBlock(int in_channels, int out_channels);
  Tensor forward(const Tensor& x);

 private:
  Conv2d& depthwise_;
  BatchNorm2d& bn1_;
  Conv2d& pointwise_;
  BatchNorm2d& bn2_;
};

class SegNet : public Module {
 public:
  explicit SegNet(const SegNetConfig& config);
  // x [N, 1, S, S] -> logits [N, classes, S, S]; S must be divisible by 2^levels.
  Tensor forward(const Tensor& x);
  const SegNetConfig& config() const { return config_; }

 private:
  SegNetConfig config_;
  Conv2d& stem_conv_;
  BatchNorm2d& stem_bn_;
  std::vector<SeparableBlock*> down_, up_;
  Conv2d& head_;
};

}  // namespace cxr
