#include "engine/backend.h"

#include "base/check.h"

namespace cxr {

const Backend& backend_for(Device device) {
  switch (device.type) {
    case DeviceType::CPU: return cpu_backend();
    case DeviceType::CUDA: return cuda_backend(device.index);
  }
  throw Error("backend_for: unknown device type");
}

}  // namespace cxr
