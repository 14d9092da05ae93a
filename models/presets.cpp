#include "models/presets.h"

#include "base/check.h"
#include "models/depthwise_net.h"

#include <fmt/ranges.h>

namespace cxr {

namespace {

NetConfig kaggle_sep(int num_classes) {
  using B = NetConfig::Block;
  const B pool{.kind = BlockKind::max_pool};
  auto separable = [](int out, bool batch_norm) {
    return B{out, 1, BlockKind::separable, batch_norm};
  };
  NetConfig c;
  c.stem_channels = 64;
  c.stem_stride = 1;
  c.stem_batch_norm = false;
  c.blocks = {B{64, 1, BlockKind::conv, false},
              pool,
              separable(128, false),
              separable(128, false),
              pool,
              separable(256, true),
              separable(256, true),
              separable(256, true),
              pool,
              separable(512, true),
              separable(512, true),
              separable(512, true),
              pool};
  c.hidden_units = 512;
  c.dropout = 0.5;
  c.num_classes = num_classes;
  return c;
}

}  // namespace

std::vector<std::string> preset_names() {
  return {"cxr-small", "kaggle-sep"};
}

NetConfig preset_config(const std::string& name, int num_classes, int input_size) {
  NetConfig c;
  if (name == "cxr-small") {
    c = NetConfig::cxr_small(num_classes);
  } else if (name == "kaggle-sep") {
    c = kaggle_sep(num_classes);
  } else {
    throw Error(fmt::format("unknown preset '{}': expected one of {}", name, fmt::join(preset_names(), ", ")));
  }
  c.input_size = input_size;
  c.validate();
  return c;
}

std::unique_ptr<ClassifierNet> make_net(const NetConfig& config, std::uint64_t dropout_seed) {
  return std::make_unique<DepthwiseSeparableNet>(config, dropout_seed);
}

}  // namespace cxr
