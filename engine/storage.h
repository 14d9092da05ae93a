// A refcounted block of bytes on one device. Tensors are views into a Storage
// (shape, strides, offset); several tensors may share one, e.g. every parameter
// of a model is a view into one flat parameter buffer.
#pragma once

#include "engine/device.h"

#include <cstddef>
#include <memory>

namespace cxr {

struct Backend;

class Storage {
 public:
  // Memory from the device's backend (engine/backend.h): CPU blocks are 64-byte
  // aligned (one cache line, one AVX-512 vector), CUDA blocks 256-byte aligned
  // (cudaMalloc) and come from the CUDA backend's cache (throws a cxr::Error when the
  // build or the machine has no usable GPU). Zero-filled on request (on the GPU:
  // queued on the CXR stream), otherwise the bytes are whatever the block last held.
  Storage(std::size_t nbytes, Device device, bool zero_fill);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() { return data_; }
  const void* data() const { return data_; }
  std::size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

 private:
  const Backend* backend_;  // the device's, which frees the block
  void* data_ = nullptr;
  std::size_t nbytes_ = 0;
  Device device_;
};

// CPU blocks are recycled through a cache keyed by size (kernels/cpu/host_memory.h):
// a training step allocates the same activation sizes every iteration, and fresh
// pages from the OS cost a page fault and a kernel zero-fill per 4 KiB. The cache
// holds at most CXR_CPU_CACHE_MB (default 4096) MiB of free blocks.
std::size_t cpu_cache_bytes();  // bytes held in free cached blocks now
void release_cpu_cache();       // returns every cached block to the OS

}  // namespace cxr
