#include "models/depthwise_net.h"

#include "engine/autograd.h"
#include "engine/nn/fold_batch_norm.h"

#include <algorithm>

namespace cxr {

namespace {

// Inference without a graph: batch norm folded into the convolution, ReLU fused.
// The fold is a host loop over the weights: on the GPU the eval-mode batch norm runs
// unfolded instead (one more pass per activation, but no weight round trip per call).
bool folded_inference(const Module& m, const Tensor& weight) {
  return !m.training() && !grad_enabled() && weight.device().is_cpu();
}

// relu(bn(conv(x))), or relu(conv(x) + bias) without batch norm.
Tensor conv_bn_relu(const Tensor& x, const Conv2d& conv, BatchNorm2d* bn) {
  if (bn == nullptr) return conv2d_relu(x, conv.weight, conv.bias, conv.options);
  if (folded_inference(*bn, conv.weight)) {
    const FoldedConv2d f = fold_batch_norm(conv, *bn);
    return conv2d_relu(x, f.weight, f.bias, f.options);
  }
  return bn->forward_relu(conv.forward(x));
}

class SeparableBlock : public NetBlock {
 public:
  SeparableBlock(int in_channels, int out_channels, int stride, bool batch_norm)
      : depthwise_(
            add_module("depthwise", std::make_unique<Conv2d>(in_channels, in_channels, 3, stride, 1, in_channels))),
        bn1_(batch_norm ? &add_module("bn1", std::make_unique<BatchNorm2d>(in_channels)) : nullptr),
        pointwise_(
            add_module("pointwise", std::make_unique<Conv2d>(in_channels, out_channels, 1, 1, 0, 1, !batch_norm))),
        bn2_(batch_norm ? &add_module("bn2", std::make_unique<BatchNorm2d>(out_channels)) : nullptr) {}

  Tensor forward(const Tensor& x) override {
    if (bn1_ == nullptr) return conv_bn_relu(depthwise_.forward(x), pointwise_, nullptr);
    return conv_bn_relu(conv_bn_relu(x, depthwise_, bn1_), pointwise_, bn2_);
  }

 private:
  Conv2d& depthwise_;
  BatchNorm2d* bn1_;
  Conv2d& pointwise_;
  BatchNorm2d* bn2_;
};

class ConvBlock : public NetBlock {
 public:
  ConvBlock(int in_channels, int out_channels, int stride, bool batch_norm)
      : conv_(add_module("conv", std::make_unique<Conv2d>(in_channels, out_channels, 3, stride, 1, 1, !batch_norm))),
        bn_(batch_norm ? &add_module("bn", std::make_unique<BatchNorm2d>(out_channels)) : nullptr) {}

  Tensor forward(const Tensor& x) override { return conv_bn_relu(x, conv_, bn_); }

 private:
  Conv2d& conv_;
  BatchNorm2d* bn_;
};

class MaxPoolBlock : public NetBlock {
 public:
  Tensor forward(const Tensor& x) override { return max_pool2d(x, 2, 2); }
};

const NetConfig& validated(const NetConfig& config) {
  config.validate();
  return config;
}

}  // namespace

std::string last_frozen_layer(const NetConfig& config, Unfreeze unfreeze) {
  if (unfreeze == Unfreeze::all) return "";
  const auto layer = [](int block) {
    return block < 0 ? std::string("stem") : fmt::format("blocks.{}", block);
  };
  const int last = static_cast<int>(config.blocks.size()) - 1;
  if (unfreeze == Unfreeze::head) return layer(last);
  // Blocks with weights, from the last one back (pooling blocks have none).
  std::vector<int> weighted;
  for (int i = last; i >= 0; --i)
    if (config.blocks[i].kind != BlockKind::max_pool) weighted.push_back(i);
  const std::size_t wanted = unfreeze == Unfreeze::last_block ? 1 : 3;
  if (weighted.size() < wanted) return "";  // fewer blocks than that: everything trains
  return layer(weighted[wanted - 1] - 1);
}

DepthwiseSeparableNet::DepthwiseSeparableNet(const NetConfig& config, std::uint64_t dropout_seed)
    : ClassifierNet(validated(config), dropout_seed),
      stem_conv_(add_module("stem_conv", std::make_unique<Conv2d>(config.in_channels, config.stem_channels, 3,
                                                                  config.stem_stride, 1, 1, !config.stem_batch_norm))) {
  if (config.stem_batch_norm) stem_bn_ = &add_module("stem_bn", std::make_unique<BatchNorm2d>(config.stem_channels));
  int channels = config.stem_channels;
  for (std::size_t i = 0; i < config.blocks.size(); ++i) {
    const auto& b = config.blocks[i];
    std::unique_ptr<NetBlock> block;
    switch (b.kind) {
      case BlockKind::separable:
        block = std::make_unique<SeparableBlock>(channels, b.out_channels, b.stride, b.batch_norm);
        break;
      case BlockKind::conv:
        block = std::make_unique<ConvBlock>(channels, b.out_channels, b.stride, b.batch_norm);
        break;
      case BlockKind::max_pool: block = std::make_unique<MaxPoolBlock>(); break;
    }
    if (b.kind != BlockKind::max_pool) channels = b.out_channels;
    blocks_.push_back(&add_module("blocks." + std::to_string(i), std::move(block)));
  }
  if (config.hidden_units > 0) {
    hidden_ = &add_module("hidden", std::make_unique<Linear>(channels, config.hidden_units));
    channels = config.hidden_units;
  }
  classifier_ = &add_module("classifier", std::make_unique<Linear>(channels, config.num_classes));
}

std::vector<std::string> DepthwiseSeparableNet::layer_names() const {
  std::vector<std::string> names{"stem"};
  for (std::size_t i = 0; i < blocks_.size(); ++i) names.push_back("blocks." + std::to_string(i));
  return names;
}

std::size_t DepthwiseSeparableNet::layer_index(const std::string& layer) const {
  const auto names = layer_names();
  const auto it = std::find(names.begin(), names.end(), layer);
  if (it == names.end())
    throw Error(fmt::format("no layer '{}' in this network: expected one of stem, blocks.0 .. blocks.{}", layer,
                            blocks_.size() - 1));
  return static_cast<std::size_t>(it - names.begin());
}

std::string DepthwiseSeparableNet::cam_layer() const {
  const auto& blocks = config().blocks;
  for (std::size_t i = blocks.size(); i-- > 0;)
    if (blocks[i].kind != BlockKind::max_pool) return "blocks." + std::to_string(i);
  return "stem";
}

std::string DepthwiseSeparableNet::last_frozen_layer(Unfreeze unfreeze) const {
  return cxr::last_frozen_layer(config(), unfreeze);
}

std::vector<Module*> DepthwiseSeparableNet::layer_modules(const std::string& layer) {
  const std::size_t i = layer_index(layer);
  if (i > 0) return {blocks_[i - 1]};
  std::vector<Module*> stem{&stem_conv_};
  if (stem_bn_ != nullptr) stem.push_back(stem_bn_);
  return stem;
}

Tensor DepthwiseSeparableNet::run_layers(Tensor h, std::size_t begin, std::size_t end) {
  for (std::size_t i = begin; i < end; ++i)
    h = i == 0 ? conv_bn_relu(h, stem_conv_, stem_bn_) : blocks_[i - 1]->forward(h);
  return h;
}

Tensor DepthwiseSeparableNet::features(const Tensor& x) {
  return run_layers(x, 0, blocks_.size() + 1);
}

Tensor DepthwiseSeparableNet::head(const Tensor& features) {
  Tensor h = global_avg_pool2d(features);
  if (hidden_ != nullptr) h = relu(hidden_->forward(h));
  return classifier_->forward(dropout(h, config().dropout, training(), dropout_generator()));
}

Tensor DepthwiseSeparableNet::forward_until(const Tensor& x, const std::string& layer) {
  return run_layers(x, 0, layer_index(layer) + 1);
}

Tensor DepthwiseSeparableNet::forward_after(const Tensor& h, const std::string& layer) {
  return head(run_layers(h, layer_index(layer) + 1, blocks_.size() + 1));
}

}  // namespace cxr
