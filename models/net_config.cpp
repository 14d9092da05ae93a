#include "models/net_config.h"

#include "base/check.h"
#include "models/json_fields.h"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>

namespace cxr {

namespace json = boost::json;

std::string block_kind_name(BlockKind kind) {
  switch (kind) {
    case BlockKind::separable: return "separable";
    case BlockKind::conv: return "conv";
    case BlockKind::max_pool: return "max_pool";
  }
  return "?";
}

NetConfig NetConfig::cxr_small(int num_classes) {
  NetConfig c;
  c.blocks = {{64, 1}, {128, 2}, {128, 1}, {256, 2}, {256, 1}, {512, 2}, {512, 1}, {512, 1}};
  c.num_classes = num_classes;
  return c;
}

NetConfig NetConfig::narrowed(double width) const {
  NetConfig c = *this;
  auto scale = [width](int ch) {
    return std::max(1, static_cast<int>(std::lround(ch * width)));
  };
  c.stem_channels = scale(c.stem_channels);
  for (auto& b : c.blocks)
    if (b.kind != BlockKind::max_pool) b.out_channels = scale(b.out_channels);
  if (c.hidden_units > 0) c.hidden_units = scale(c.hidden_units);
  return c;
}

int NetConfig::feature_channels() const {
  int channels = stem_channels;
  for (const auto& b : blocks)
    if (b.kind != BlockKind::max_pool) channels = b.out_channels;
  return channels;
}

void NetConfig::validate() const {
  CXR_CHECK(in_channels > 0 && stem_channels > 0, "net config: in_channels {} and stem_channels {} must be positive",
            in_channels, stem_channels);
  CXR_CHECK(stem_stride == 1 || stem_stride == 2, "net config: stem_stride must be 1 or 2, got {}", stem_stride);
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const Block& b = blocks[i];
    if (b.kind == BlockKind::max_pool) continue;
    CXR_CHECK(b.out_channels > 0, "net config: block {} has {} output channels", i, b.out_channels);
    CXR_CHECK(b.stride == 1 || b.stride == 2, "net config: block {} has stride {} (1 or 2)", i, b.stride);
  }
  CXR_CHECK(hidden_units >= 0, "net config: hidden_units must be >= 0, got {}", hidden_units);
  CXR_CHECK(num_classes >= 2, "net config: need at least 2 classes, got {}", num_classes);
  CXR_CHECK(dropout >= 0 && dropout < 1, "net config: dropout must be in [0, 1), got {}", dropout);
  CXR_CHECK(input_size >= 8, "net config: input_size must be at least 8, got {}", input_size);
}

json::object to_json(const NetConfig& c) {
  json::array blocks;
  for (const auto& b : c.blocks) {
    json::object o{{"kind", block_kind_name(b.kind)}};
    if (b.kind != BlockKind::max_pool) {
      o["out_channels"] = b.out_channels;
      o["stride"] = b.stride;
      o["batch_norm"] = b.batch_norm;
    }
    blocks.push_back(std::move(o));
  }
  return json::object{{"in_channels", c.in_channels}, {"stem_channels", c.stem_channels},
                      {"stem_stride", c.stem_stride}, {"stem_batch_norm", c.stem_batch_norm},
                      {"blocks", std::move(blocks)},  {"hidden_units", c.hidden_units},
                      {"num_classes", c.num_classes}, {"dropout", c.dropout},
                      {"input_size", c.input_size}};
}

namespace {

BlockKind parse_block_kind(const std::string& name, const std::string& where) {
  for (BlockKind k : {BlockKind::separable, BlockKind::conv, BlockKind::max_pool})
    if (name == block_kind_name(k)) return k;
  throw Error(fmt::format("{}: kind \"{}\"; expected separable, conv or max_pool", where, name));
}

}  // namespace

NetConfig net_config_from_json(const json::value& value) {
  using namespace json_fields;
  const json::object& o = as_object(value, "net config");
  const std::string top = "net config";
  NetConfig c;
  c.in_channels = get_int(o, "in_channels", top);
  c.stem_channels = get_int(o, "stem_channels", top);
  c.stem_stride = get_int(o, "stem_stride", top);
  c.stem_batch_norm = get_bool(o, "stem_batch_norm", top);
  c.hidden_units = get_int(o, "hidden_units", top);
  c.num_classes = get_int(o, "num_classes", top);
  c.dropout = get_double(o, "dropout", top);
  c.input_size = get_int(o, "input_size", top);
  const json::array& blocks = get_array(o, "blocks", top);
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const std::string where = fmt::format("net config block {}", i);
    const json::object& b = as_object(blocks[i], where);
    NetConfig::Block block;
    block.kind = parse_block_kind(get_string(b, "kind", where), where);
    if (block.kind != BlockKind::max_pool) {
      block.out_channels = get_int(b, "out_channels", where);
      block.stride = get_int(b, "stride", where);
      block.batch_norm = get_bool(b, "batch_norm", where);
    }
    c.blocks.push_back(block);
  }
  c.validate();
  return c;
}

}  // namespace cxr
