#include "models/device_choice.h"

#include "base/check.h"
#include "kernels/cuda/runtime.h"

namespace cxr {

Device resolve_device(const std::string& name) {
  if (name == "cpu") return Device::cpu();
  const bool usable = cuda::compiled() && cuda::device_count() > 0;
  if (name == "auto") return usable ? Device::cuda() : Device::cpu();
  const std::string index = name.rfind("cuda:", 0) == 0 ? name.substr(5) : "";
  const bool numbered = !index.empty() && index.find_first_not_of("0123456789") == std::string::npos;
  if (numbered && index != "0")
    throw Error(
        fmt::format("--device {}: CXR computes on one GPU, cuda:0; choose which with "
                    "CUDA_VISIBLE_DEVICES={}",
                    name, index));
  if (name != "cuda" && name != "cuda:0") throw Error(fmt::format("--device '{}': expected {}", name, kDeviceHelp));
  if (!cuda::compiled())
    throw Error(
        fmt::format("--device {}: CUDA backend not compiled into this cxr (build it with "
                    "-DCXR_CUDA=ON and nvcc); use --device cpu",
                    name));
  if (cuda::device_count() == 0)
    throw Error(
        fmt::format("--device {}: no CUDA GPU visible (no NVIDIA driver or device; a container "
                    "needs --gpus all); use --device cpu",
                    name));
  return Device::cuda();
}

}  // namespace cxr
