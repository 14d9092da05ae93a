#include "engine/storage.h"

#include "engine/check.h"
#include "kernels/cuda/runtime.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <vector>

namespace cxr {

namespace {

constexpr std::size_t kAlignment = 64;

// Free blocks by exact (rounded) size. Training allocates the same sizes every
// step, so exact sizes reuse well without splitting blocks.
class CpuBlockCache {
 public:
  CpuBlockCache() {
    const char* env = std::getenv("CXR_CPU_CACHE_MB");
    limit_ = (env ? std::strtoull(env, nullptr, 10) : 4096ULL) << 20;
  }
  ~CpuBlockCache() { release(); }

  void* allocate(std::size_t bytes) {
    {
      std::lock_guard lock(mutex_);
      auto it = free_.find(bytes);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        held_ -= bytes;
        return p;
      }
    }
    void* p = std::aligned_alloc(kAlignment, bytes);
    if (!p) {
      release();  // memory may be sitting in the cache: give it back and retry once
      p = std::aligned_alloc(kAlignment, bytes);
      if (!p) throw std::bad_alloc();
    }
    return p;
  }

  void deallocate(void* p, std::size_t bytes) {
    std::lock_guard lock(mutex_);
    if (held_ + bytes > limit_) {
      std::free(p);
      return;
    }
    free_[bytes].push_back(p);
    held_ += bytes;
  }

  void release() {
    std::lock_guard lock(mutex_);
    for (auto& [bytes, blocks] : free_)
      for (void* p : blocks) std::free(p);
    free_.clear();
    held_ = 0;
  }

  std::size_t held() {
    std::lock_guard lock(mutex_);
    return held_;
  }

 private:
  std::mutex mutex_;
  std::map<std::size_t, std::vector<void*>> free_;
  std::size_t held_ = 0, limit_ = 0;
};

CpuBlockCache& cache() {
  static CpuBlockCache* instance = new CpuBlockCache();  // never destroyed: outlives static tensors
  return *instance;
}

std::size_t rounded(std::size_t nbytes) {
  const std::size_t n = nbytes == 0 ? kAlignment : nbytes;
  return (n + kAlignment - 1) / kAlignment * kAlignment;
}

// With CXR_POISON_EMPTY=1 (set for every test) uninitialised blocks are filled
// with 0xFF bytes, a NaN in float32 and float64: a kernel that reads an output
// before writing it produces NaNs that the tests see.
bool poison_empty() {
  static const bool on = [] {
    const char* env = std::getenv("CXR_POISON_EMPTY");
    return env && env[0] == '1';
  }();
  return on;
}

}  // namespace

Storage::Storage(std::size_t nbytes, Device device, bool zero_fill) : nbytes_(nbytes), device_(device) {
  if (device.is_cuda()) {
    cuda::require_device(device.index);
    data_ = cuda::device_alloc(nbytes);
    if (zero_fill || poison_empty()) cuda::fill_bytes(data_, zero_fill ? 0x00 : 0xFF, nbytes);
    return;
  }
  data_ = cache().allocate(rounded(nbytes));
  if (zero_fill) {
    std::memset(data_, 0, rounded(nbytes));
  } else if (poison_empty()) {
    std::memset(data_, 0xFF, rounded(nbytes));
  }
}

Storage::~Storage() {
  if (device_.is_cuda()) {
    cuda::device_free(data_, nbytes_);
  } else {
    cache().deallocate(data_, rounded(nbytes_));
  }
}

std::size_t cpu_cache_bytes() { return cache().held(); }
void release_cpu_cache() { cache().release(); }

}  // namespace cxr
