#include "server/decode_gate.h"

#include <fmt/format.h>

#include <algorithm>

namespace cxr::server {

DecodeGate::DecodeGate(int slots, std::chrono::milliseconds wait) : slots_(std::max(1, slots)), wait_(wait) {}

DecodeGate::Permit::~Permit() {
  if (gate_ == nullptr) return;
  {
    std::lock_guard lock(gate_->mutex_);
    --gate_->held_;
  }
  gate_->freed_.notify_one();
}

DecodeGate::Permit DecodeGate::enter() {
  std::unique_lock lock(mutex_);
  if (!freed_.wait_for(lock, wait_, [this] { return held_ < slots_; }))
    throw ServiceBusy(fmt::format("the server is decoding {} other image(s) and none finished within {} s: "
                                  "try again in a moment",
                                  slots_, wait_.count() / 1000.0),
                      1);
  ++held_;
  return Permit(*this);
}

int DecodeGate::busy() const {
  std::lock_guard lock(mutex_);
  return held_;
}

}  // namespace cxr::server
