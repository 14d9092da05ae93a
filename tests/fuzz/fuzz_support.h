// What the libFuzzer targets of tests/fuzz share: the input as bytes or text, and
// the tiny model the preprocessing and the HTTP target use (2 classes, 64 x 64,
// initialised from a seed; the tests' server_harness.h builds the same one).
#pragma once

#include "models/model_file.h"
#include "models/presets.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace cxr::fuzz {

inline std::span<const std::uint8_t> bytes(const std::uint8_t* data, std::size_t size) {
  return {data, size};
}

inline std::string_view text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

inline LoadedModel tiny_model() {
  LoadedModel m;
  m.info.preset = "fuzz-tiny";
  m.info.config = NetConfig::cxr_small(2).narrowed(0.125);
  m.info.config.blocks.resize(4);
  m.info.config.input_size = 64;
  m.info.class_names = {"covid", "normal"};
  m.info.mean = 0.5f;
  m.info.stddev = 0.25f;
  m.net = make_net(m.info.config, 1);
  m.params = std::make_unique<ParameterSet>(*m.net, 1);
  m.net->eval();
  return m;
}

}  // namespace cxr::fuzz
