#include "kernels/cpu/host_memory.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <vector>

namespace cxr::cpu {

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

}  // namespace

void* host_allocate(std::size_t bytes) {
  return cache().allocate(rounded(bytes));
}
void host_deallocate(void* p, std::size_t bytes) {
  cache().deallocate(p, rounded(bytes));
}
std::size_t host_cached_bytes() {
  return cache().held();
}
void host_release_cache() {
  cache().release();
}

}  // namespace cxr::cpu
