// Where a command computes: the `--device` option of cxr train, predict, explain,
// eval, eval-heatmaps and serve.
//
//   cpu         the CPU backend (always there; the default)
//   cuda        the GPU (cuda:0 is the same). CXR uses one GPU; another is chosen with
//               CUDA_VISIBLE_DEVICES. Refused with the reason when this binary was
//               built without the CUDA backend or no GPU is visible (no NVIDIA
//               driver, no device, a container started without --gpus).
//   auto        cuda when it can be used, else cpu
#pragma once

#include "engine/device.h"

#include <string>

namespace cxr {

inline constexpr const char* kDeviceHelp = "cpu, cuda or auto (cuda when a GPU can be used, else cpu)";

// Throws cxr::Error saying why the device cannot be used.
Device resolve_device(const std::string& name);

}  // namespace cxr
