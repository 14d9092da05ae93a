// safetensors files (https://github.com/huggingface/safetensors): the checkpoint
// format CXR shares with PyTorch.
//
//   [8 bytes]  N, little-endian u64: the header length
//   [N bytes]  UTF-8 JSON object: {"__metadata__": {string: string},
//              "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
//              padded with spaces so that the data starts on an 8-byte boundary
//   [rest]     raw little-endian tensor data; offsets are relative to its start,
//              and the tensors cover it exactly (no gaps, no overlaps)
//
// The loader treats the file as untrusted input: every length, offset and shape
// is checked against the file before anything is read, and each problem is a
// cxr::Error naming the file and what is wrong with it.
#pragma once

#include "engine/tensor.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace cxr {

// The header may not be larger than this (the reference implementation's limit).
inline constexpr std::uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

struct SafetensorsFile {
  std::string path;                             // for error messages
  std::map<std::string, Tensor> tensors;        // CPU, contiguous
  std::map<std::string, std::string> metadata;  // the "__metadata__" object, empty when absent

  bool contains(const std::string& name) const { return tensors.count(name) != 0; }
  // The tensor `name`; a cxr::Error naming the file when it has none.
  const Tensor& at(const std::string& name) const;
};

SafetensorsFile load_safetensors(const std::string& path);

// Writes float32/float64 tensors (any layout, CPU) in the given order, atomically:
// the data goes to `path`.tmp-<pid>, is flushed to disk and then renamed over
// `path`, so `path` is either the old file or the complete new one.
void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace cxr
