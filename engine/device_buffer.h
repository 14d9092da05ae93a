// An owned array of n plain values on a device, for data no Tensor holds (integer
// labels and masks, pooling argmax indices): memory from the device's backend,
// freed when the buffer goes.
#pragma once

#include "engine/backend.h"

#include <cstddef>
#include <cstdint>

namespace cxr {

template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer(std::int64_t n, Device device)
      : backend_(&backend_for(device)), n_(n), p_(static_cast<T*>(backend_->allocate(bytes()))) {}
  // A device copy of `n` host values.
  DeviceBuffer(const T* host, std::int64_t n, Device device) : DeviceBuffer(n, device) {
    backend_->copy_bytes(p_, true, host, false, bytes());
  }
  ~DeviceBuffer() { backend_->deallocate(p_, bytes()); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* get() const { return p_; }
  std::int64_t size() const { return n_; }

 private:
  std::size_t bytes() const { return static_cast<std::size_t>(n_) * sizeof(T); }
  const Backend* backend_;
  std::int64_t n_;
  T* p_;
};

}  // namespace cxr
