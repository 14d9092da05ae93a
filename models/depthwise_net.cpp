#include "models/depthwise_net.h"

#include "engine/autograd.h"
#include "engine/nn/fold_batch_norm.h"

#include <algorithm>
#include <cmath>

namespace cxr {

NetConfig NetConfig::cxr_small(int num_classes) {
  NetConfig c;
  c.blocks = {{64, 1}, {128, 2}, {128, 1}, {256, 2}, {256, 1}, {512, 2}, {512, 1}, {512, 1}};
  c.num_classes = num_classes;
  return c;
}

NetConfig NetConfig::narrowed(double width) const {
  NetConfig c = *this;
  auto scale = [width](int ch) { return std::max(1, static_cast<int>(std::lround(ch * width))); };
  c.stem_channels = scale(c.stem_channels);
  for (auto& b : c.blocks) b.out_channels = scale(b.out_channels);
  return c;
}

SeparableBlock::SeparableBlock(int in_channels, int out_channels, int stride)
    : depthwise(add_module("depthwise", std::make_unique<Conv2d>(in_channels, in_channels, 3, stride,
                                                                 1, in_channels))),
      bn1(add_module("bn1", std::make_unique<BatchNorm2d>(in_channels))),
      pointwise(add_module("pointwise", std::make_unique<Conv2d>(in_channels, out_channels, 1))),
      bn2(add_module("bn2", std::make_unique<BatchNorm2d>(out_channels))) {}

namespace {

// Inference without a graph: batch norm folded into the convolution, ReLU fused.
bool folded_inference(const Module& m) { return !m.training() && !grad_enabled(); }

Tensor conv_bn_relu(const Tensor& x, const Conv2d& conv, BatchNorm2d& bn) {
  if (folded_inference(bn)) {
    const FoldedConv2d f = fold_batch_norm(conv, bn);
    return conv2d_relu(x, f.weight, f.bias, f.options);
  }
  return bn.forward_relu(conv.forward(x));
}

}  // namespace

Tensor SeparableBlock::forward(const Tensor& x) {
  return conv_bn_relu(conv_bn_relu(x, depthwise, bn1), pointwise, bn2);
}

DepthwiseSeparableNet::DepthwiseSeparableNet(const NetConfig& config, std::uint64_t dropout_seed)
    : config_(config),
      stem_conv_(add_module("stem_conv", std::make_unique<Conv2d>(config.in_channels,
                                                                  config.stem_channels, 3, 2, 1))),
      stem_bn_(add_module("stem_bn", std::make_unique<BatchNorm2d>(config.stem_channels))),
      dropout_gen_(dropout_seed) {
  int channels = config.stem_channels;
  for (std::size_t i = 0; i < config.blocks.size(); ++i) {
    const auto& b = config.blocks[i];
    blocks_.push_back(&add_module("blocks." + std::to_string(i),
                                  std::make_unique<SeparableBlock>(channels, b.out_channels, b.stride)));
    channels = b.out_channels;
  }
  classifier_ = &add_module("classifier", std::make_unique<Linear>(channels, config.num_classes));
}

Tensor DepthwiseSeparableNet::features(const Tensor& x) {
  Tensor h = conv_bn_relu(x, stem_conv_, stem_bn_);
  for (auto* block : blocks_) h = block->forward(h);
  return h;
}

Tensor DepthwiseSeparableNet::head(const Tensor& features) {
  Tensor pooled = global_avg_pool2d(features);
  return classifier_->forward(dropout(pooled, config_.dropout, training(), dropout_gen_));
}

Tensor DepthwiseSeparableNet::forward(const Tensor& x) { return head(features(x)); }

}  // namespace cxr
