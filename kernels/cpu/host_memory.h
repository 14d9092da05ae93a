// Host memory for CPU tensors: 64-byte aligned blocks (one cache line, one AVX-512
// vector), recycled through a cache keyed by size. A training step allocates the
// same activation sizes every iteration, and fresh pages from the OS cost a page
// fault and a kernel zero-fill per 4 KiB. The cache holds at most CXR_CPU_CACHE_MB
// (default 4096) MiB of free blocks. The CPU backend's memory (backend_cpu.cpp).
#pragma once

#include <cstddef>

namespace cxr::cpu {

// `bytes` passed to host_deallocate must be the size passed to host_allocate.
void* host_allocate(std::size_t bytes);
void host_deallocate(void* p, std::size_t bytes);
std::size_t host_cached_bytes();  // bytes held in free cached blocks now
void host_release_cache();        // returns every cached block to the OS

}  // namespace cxr::cpu
