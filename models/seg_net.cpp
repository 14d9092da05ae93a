#include "models/seg_net.h"

#include "base/check.h"

namespace cxr {

SeparableBlock::SeparableBlock(int in_channels, int out_channels)
    : depthwise_(add_module("depthwise", std::make_unique<Conv2d>(in_channels, in_channels, 3, 1, 1, in_channels))),
      bn1_(add_module("bn1", std::make_unique<BatchNorm2d>(in_channels))),
      pointwise_(add_module("pointwise", std::make_unique<Conv2d>(in_channels, out_channels, 1))),
      bn2_(add_module("bn2", std::make_unique<BatchNorm2d>(out_channels))) {}

Tensor SeparableBlock::forward(const Tensor& x) {
  return bn2_.forward_relu(pointwise_.forward(bn1_.forward_relu(depthwise_.forward(x))));
}

SegNet::SegNet(const SegNetConfig& config)
    : config_(config),
      stem_conv_(add_module("stem_conv", std::make_unique<Conv2d>(1, config.widths.at(0), 3, 1, 1))),
      stem_bn_(add_module("stem_bn", std::make_unique<BatchNorm2d>(config.widths.at(0)))),
      head_(add_module("head", std::make_unique<Conv2d>(config.widths.at(0), config.classes, 1, 1, 0, 1, true))) {
  const std::vector<int>& w = config.widths;
  CXR_CHECK(w.size() >= 2, "SegNet: needs at least two widths (stem and one level), got {}", w.size());
  CXR_CHECK(config.classes >= 1, "SegNet: classes must be >= 1, got {}", config.classes);
  const int levels = static_cast<int>(w.size()) - 1;
  CXR_CHECK(config.input_size > 0 && config.input_size % (1 << levels) == 0,
            "SegNet: input size {} is not divisible by 2^{} (one halving per level)", config.input_size, levels);
  for (int i = 1; i <= levels; ++i)
    down_.push_back(&add_module("down." + std::to_string(i), std::make_unique<SeparableBlock>(w[i - 1], w[i])));
  // up.i takes level i's output upsampled, concatenated with level i-1's: w[i] + w[i-1] channels.
  for (int i = levels; i >= 1; --i)
    up_.push_back(&add_module("up." + std::to_string(i), std::make_unique<SeparableBlock>(w[i] + w[i - 1], w[i - 1])));
}

Tensor SegNet::forward(const Tensor& x) {
  CXR_CHECK(x.dim() == 4 && x.size(1) == 1, "SegNet: input {} is not [N, 1, H, W]", shape_str(x.shape()));
  const int levels = static_cast<int>(down_.size());
  CXR_CHECK(x.size(2) % (1 << levels) == 0 && x.size(3) % (1 << levels) == 0,
            "SegNet: input {} is not divisible by 2^{}", shape_str(x.shape()), levels);
  std::vector<Tensor> skips;
  Tensor h = stem_bn_.forward_relu(stem_conv_.forward(x));
  for (SeparableBlock* block : down_) {
    skips.push_back(h);
    h = block->forward(max_pool2d(h, 2, 2));
  }
  for (SeparableBlock* block : up_) {
    const Tensor& skip = skips.back();
    const Tensor up = resize_bilinear(h, static_cast<int>(skip.size(2)), static_cast<int>(skip.size(3)));
    h = block->forward(concat_channels({up, skip}));
    skips.pop_back();
  }
  return head_.forward(h);
}

}  // namespace cxr
