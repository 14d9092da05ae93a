// The architecture of a classifier network, as data: what a model file stores in
// its metadata (as JSON) to rebuild the network it holds.
//
//   stem:   conv 3x3 (stem_stride) in -> stem_channels [+ BN] + ReLU
//   blocks: in order, each one of
//     separable  depthwise 3x3 (stride) and pointwise 1x1 to out_channels. With batch
//                norm: BN + ReLU after each (MobileNet, Howard et al. 2017). Without:
//                Keras's SeparableConv2D, no activation between the two, a bias on
//                the pointwise, one ReLU after it.
//     conv       conv 3x3 (stride) to out_channels [+ BN] + ReLU
//     max_pool   2x2 max pool, stride 2 (out_channels and stride unused)
//     Convolutions without batch norm carry a bias; with it, none (BN's beta is one).
//   head:   global average pool [-> linear hidden_units + ReLU] -> dropout -> linear
//           to num_classes
#pragma once

#include <boost/json/fwd.hpp>

#include <string>
#include <vector>

namespace cxr {

enum class BlockKind { separable, conv, max_pool };

std::string block_kind_name(BlockKind kind);

struct NetConfig {
  struct Block {
    int out_channels = 0;
    int stride = 1;
    BlockKind kind = BlockKind::separable;
    bool batch_norm = true;
    bool operator==(const Block&) const = default;
  };
  int in_channels = 1;
  int stem_channels = 32;
  int stem_stride = 2;
  bool stem_batch_norm = true;
  std::vector<Block> blocks;
  int hidden_units = 0;  // 0: no hidden layer in the head
  int num_classes = 4;
  double dropout = 0.3;
  int input_size = 224;  // the side of the square images the net was trained on

  bool operator==(const NetConfig&) const = default;

  // The reference net of the engine benchmarks and the `cxr-small` preset.
  static NetConfig cxr_small(int num_classes = 4);
  // Every channel count and the hidden width multiplied by `width` (at least 1): for fast tests.
  NetConfig narrowed(double width) const;
  // Channels of the last block's output (what the head pools).
  int feature_channels() const;
  // Throws cxr::Error naming the first field out of range.
  void validate() const;
};

boost::json::object to_json(const NetConfig& config);
// Throws cxr::Error naming the missing or malformed field; the result is validated.
NetConfig net_config_from_json(const boost::json::value& json);

}  // namespace cxr
