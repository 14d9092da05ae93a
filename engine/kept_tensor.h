// Whole tensors kept for a learner to look at (the step view of `cxr inspect` and
// the server's GET /inspect/step/{id}/tensor), under two caps: the elements of one
// tensor and the bytes of everything one keeper holds. A tensor over a cap is not
// kept, and the reason says which cap, so that a view never shows a truncated
// tensor as a whole one.
#pragma once

#include "engine/tensor.h"

#include <cstdint>
#include <string>

namespace cxr {

struct TensorCaps {
  std::int64_t max_elements = 0;     // per tensor; 0 keeps none
  std::int64_t max_total_bytes = 0;  // over every tensor one TensorKeeper keeps
};

struct KeptTensor {
  Tensor value;        // a contiguous copy on the CPU, same dtype; undefined when not kept
  std::string reason;  // why it was not kept; empty when kept
  bool kept() const { return value.defined(); }
};

class TensorKeeper {
 public:
  explicit TensorKeeper(TensorCaps caps) : caps_(caps) {}
  // A copy of t when both caps allow it, else none and the reason.
  KeptTensor keep(const Tensor& t);
  // Not kept, with the reason (e.g. "the input image has no gradient").
  static KeptTensor none(std::string reason) { return {Tensor(), std::move(reason)}; }
  const TensorCaps& caps() const { return caps_; }
  std::int64_t bytes_kept() const { return bytes_kept_; }

 private:
  TensorCaps caps_;
  std::int64_t bytes_kept_ = 0;
};

}  // namespace cxr
