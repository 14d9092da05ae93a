// Error checks and launch helpers shared by every CUDA kernel file (.cu only).
//
// Every CUDA runtime call goes through CXR_CUDA_CHECK and every kernel launch is
// followed by CXR_CUDA_LAUNCH_CHECK(), so a failure names the call, file and line
// instead of surfacing later as a sticky error in an unrelated place.
#pragma once

#include "base/check.h"

#include <cuda_runtime.h>

#include <cstdint>

#define CXR_CUDA_CHECK(call)                                                                                   \
  do {                                                                                                         \
    const cudaError_t cxr_cuda_status = (call);                                                                \
    if (cxr_cuda_status != cudaSuccess)                                                                        \
      throw ::cxr::Error(::fmt::format("CUDA error {} ({}) in {} at {}:{}", cudaGetErrorName(cxr_cuda_status), \
                                       cudaGetErrorString(cxr_cuda_status), #call, __FILE__, __LINE__));       \
  } while (0)

#define CXR_CUDA_LAUNCH_CHECK() CXR_CUDA_CHECK(cudaGetLastError())

namespace cxr::cuda {

// The stream every CXR kernel and copy is issued on (defined in runtime.cu).
cudaStream_t stream();

// Blocks of `threads` needed to cover n elements with one thread each.
inline unsigned int blocks_for(std::int64_t n, int threads) {
  return static_cast<unsigned int>((n + threads - 1) / threads);
}

}  // namespace cxr::cuda
