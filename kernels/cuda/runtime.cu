#include "kernels/cuda/runtime.h"

#include <cuda_runtime.h>

#include <string>

namespace cxr::cuda {

bool compiled() { return true; }

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

}  // namespace cxr::cuda
