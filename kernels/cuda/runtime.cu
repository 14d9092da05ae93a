// Device queries, the process stream, the caching device allocator, copies and fills.
// The fill kernel: one thread per element in a grid-stride loop (64-bit indices).
#include "kernels/cuda/runtime.h"

#include "kernels/cuda/check.cuh"

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace cxr::cuda {

bool compiled() {
  return true;
}

int device_count() {
  int n = 0;
  // No driver or no device is not an error for CXR: the CPU backend carries on.
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error
    return 0;
  }
  return n;
}

std::string describe() {
  const int n = device_count();
  std::string out = "CUDA backend compiled (runtime " + std::to_string(CUDART_VERSION / 1000) + "." +
                    std::to_string(CUDART_VERSION % 1000 / 10) + "), ";
  if (n == 0) return out + "no GPU visible";
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  return out + std::to_string(n) + " GPU(s), device 0: " + prop.name;
}

void require_device(int index) {
  static const int visible = device_count();  // asked once: every allocation checks
  CXR_CHECK(visible > 0, "cuda:{} is not available: no CUDA GPU visible", index);
  CXR_CHECK(index == 0, "cuda:{} is not available: CXR uses one GPU, cuda:0 ({} visible)", index, visible);
}

cudaStream_t stream() {
  // Created once, never destroyed (it must outlive static tensors). Non-blocking:
  // it does not synchronise with the legacy default stream, so nothing of CXR's
  // may use that stream (plain cudaMemcpy/cudaMemset) and expect ordering.
  static const cudaStream_t s = [] {
    cudaStream_t created = nullptr;
    CXR_CUDA_CHECK(cudaStreamCreateWithFlags(&created, cudaStreamNonBlocking));
    return created;
  }();
  return s;
}

namespace {

// Rounded block sizes: 512 B steps up to 1 MiB, then 128 KiB steps (at most 12.5%
// slack), so nearby sizes share free lists without splitting blocks.
std::size_t rounded(std::size_t bytes) {
  const std::size_t step = bytes <= (std::size_t{1} << 20) ? 512 : (std::size_t{1} << 17);
  const std::size_t n = std::max<std::size_t>(bytes, 1);
  return (n + step - 1) / step * step;
}

class DeviceBlockCache {
 public:
  void* allocate(std::size_t bytes) {
    const std::size_t size = rounded(bytes);
    {
      std::lock_guard lock(mutex_);
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        held_ -= size;
        return p;
      }
    }
    void* p = nullptr;
    cudaError_t status = cudaMalloc(&p, size);
    if (status == cudaErrorMemoryAllocation) {
      cudaGetLastError();  // clear it: out of memory is recoverable here
      const std::size_t freed = held();
      release();  // memory may be sitting in the cache: give it back and retry once
      status = cudaMalloc(&p, size);
      if (status == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        throw Error(
            fmt::format("CUDA out of memory allocating {:.1f} MiB (the cache of {:.1f} MiB was released "
                        "and the allocation retried)",
                        size / 1048576.0, freed / 1048576.0));
      }
    }
    CXR_CUDA_CHECK(status);
    return p;
  }

  void deallocate(void* p, std::size_t bytes) {
    std::lock_guard lock(mutex_);
    const std::size_t size = rounded(bytes);
    free_[size].push_back(p);
    held_ += size;
  }

  void release() {
    std::lock_guard lock(mutex_);
    // Queued kernels may still use cached blocks (see runtime.h): let them finish.
    CXR_CUDA_CHECK(cudaStreamSynchronize(stream()));
    for (auto& [size, blocks] : free_)
      for (void* p : blocks) CXR_CUDA_CHECK(cudaFree(p));
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
  std::size_t held_ = 0;
};

DeviceBlockCache& cache() {
  static DeviceBlockCache* instance = new DeviceBlockCache();  // never destroyed: outlives static tensors
  return *instance;
}

template <class T>
__global__ void fill_kernel(T* dst, T value, std::int64_t n) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    dst[i] = value;
}

}  // namespace

void* device_alloc(std::size_t bytes) {
  return cache().allocate(bytes);
}
void device_free(void* p, std::size_t bytes) {
  if (p) cache().deallocate(p, bytes);
}
std::size_t cached_bytes() {
  return cache().held();
}
void release_cache() {
  cache().release();
}

void copy_bytes(void* dst, bool dst_cuda, const void* src, bool src_cuda, std::size_t n) {
  if (n == 0) return;
  if (!dst_cuda && !src_cuda) {
    std::memmove(dst, src, n);
    return;
  }
  // cudaMemcpyDefault infers the direction from the pointers (unified addressing).
  CXR_CUDA_CHECK(cudaMemcpyAsync(dst, src, n, cudaMemcpyDefault, stream()));
  if (!dst_cuda || !src_cuda) CXR_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

void fill_bytes(void* dst, unsigned char byte, std::size_t n) {
  if (n == 0) return;
  CXR_CUDA_CHECK(cudaMemsetAsync(dst, byte, n, stream()));
}

template <class T>
void fill(T* dst, T value, std::int64_t n) {
  if (n <= 0) return;
  constexpr int kThreads = 256;
  // Grid-stride: at most 65536 blocks, enough to fill any GPU; the loop covers the rest.
  const auto blocks = static_cast<unsigned int>(std::min<std::int64_t>((n + kThreads - 1) / kThreads, 65536));
  fill_kernel<<<blocks, kThreads, 0, stream()>>>(dst, value, n);
  CXR_CUDA_LAUNCH_CHECK();
}

void synchronize() {
  CXR_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

template void fill<float>(float*, float, std::int64_t);
template void fill<double>(double*, double, std::int64_t);

}  // namespace cxr::cuda
