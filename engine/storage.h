// A refcounted block of bytes on one device. Tensors are views into a Storage
// (shape, strides, offset); several tensors may share one, e.g. every parameter
// of a model is a view into one flat parameter buffer.
#pragma once

#include "engine/device.h"

#include <cstddef>
#include <memory>

namespace cxr {

class Storage {
 public:
  // Zero-initialised, 64-byte aligned (one cache line, one AVX-512 vector).
  Storage(std::size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() { return data_; }
  const void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  std::size_t nbytes_ = 0;
  Device device_;
};

}  // namespace cxr
