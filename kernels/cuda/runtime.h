// The CUDA runtime: what is visible, device memory through a caching allocator,
// copies, fills and the stream every CXR kernel runs on. The engine reaches the
// memory, copies and fills through the CUDA backend (backend_cuda.cpp); the device
// queries are for the command line and the tests.
// Declared for every build (plain C++, includable from C++20 host code); without
// CUDA the queries say "not compiled" and everything else throws a cxr::Error.
//
// Ordering: all CXR work (kernels, copies, fills) is issued on one non-blocking
// stream per process (cuda::stream(), check.cuh), so it runs in issue order. A
// freed block goes back to the cache at once and may be handed to the next
// allocation while earlier kernels still read it; that is safe because every
// later use is queued behind them on the same stream. Copies that touch host
// memory wait for the stream, so the host sees finished results.
//
// CXR uses one GPU, cuda:0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace cxr::cuda {

bool compiled();         // built with the CUDA backend
int device_count();      // 0 when not compiled, no driver or no GPU
std::string describe();  // one line for `cxr --version`

// Throws a cxr::Error saying why cuda:`index` cannot hold tensors (backend not
// compiled, no GPU visible, index other than 0); returns when it can.
void require_device(int index);

// ---- device memory ------------------------------------------------------------------
// Blocks are cached by rounded size: a training step allocates the same sizes every
// iteration and cudaMalloc/cudaFree synchronise the device. When cudaMalloc runs out
// of memory the cache is released and the allocation retried once. `bytes` passed
// to device_free must be the size passed to device_alloc.
void* device_alloc(std::size_t bytes);
void device_free(void* p, std::size_t bytes);
std::size_t cached_bytes();  // bytes held in free cached blocks now
void release_cache();        // waits for the stream, then cudaFree's every cached block

// ---- copies and fills (stream-ordered) --------------------------------------------------
// n bytes from src to dst; either side may be host or device memory. Waits for the
// stream when host memory is involved (the host may read dst or reuse src at once).
void copy_bytes(void* dst, bool dst_cuda, const void* src, bool src_cuda, std::size_t n);
void fill_bytes(void* dst, unsigned char byte, std::size_t n);  // device memset
template <class T>
void fill(T* dst, T value, std::int64_t n);  // device, float or double
void synchronize();                          // waits until all work queued on the stream has finished

// An owned device array of n elements for data no Tensor holds (int labels, pooling
// argmax indices, scratch), from the caching allocator; freed when it goes.
template <class T>
class DeviceArray {
 public:
  explicit DeviceArray(std::int64_t n) : n_(n), p_(static_cast<T*>(device_alloc(bytes()))) {}
  // Uploads `n` host values.
  DeviceArray(const T* host, std::int64_t n) : DeviceArray(n) { copy_bytes(p_, true, host, false, bytes()); }
  ~DeviceArray() { device_free(p_, bytes()); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* get() const { return p_; }
  std::int64_t size() const { return n_; }

 private:
  std::size_t bytes() const { return static_cast<std::size_t>(n_) * sizeof(T); }
  std::int64_t n_;
  T* p_;
};

}  // namespace cxr::cuda
