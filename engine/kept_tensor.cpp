#include "engine/kept_tensor.h"

#include <fmt/format.h>

namespace cxr {

KeptTensor TensorKeeper::keep(const Tensor& t) {
  const std::int64_t bytes = t.numel() * static_cast<std::int64_t>(dtype_size(t.dtype()));
  if (t.numel() > caps_.max_elements)
    return none(fmt::format("{} values, over the cap of {} per tensor", t.numel(), caps_.max_elements));
  if (bytes_kept_ + bytes > caps_.max_total_bytes)
    return none(fmt::format("{} bytes would pass the cap of {} bytes for all kept tensors ({} kept)", bytes,
                            caps_.max_total_bytes, bytes_kept_));
  bytes_kept_ += bytes;
  return {t.to(Device::cpu()).clone(), {}};
}

}  // namespace cxr
