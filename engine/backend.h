// The backend of a tensor's device: ops look it up once and call its kernels
// (kernels/backend.h holds the interface and the dependency rule). The only place
// where the engine turns a Device into a backend.
#pragma once

#include "engine/device.h"
#include "kernels/backend.h"

namespace cxr {

// The CPU backend, or the CUDA one (throws a cxr::Error naming the reason when the
// build has no CUDA backend or the GPU is not there).
const Backend& backend_for(Device device);

// The kernels of dtype T on `device`.
template <class T>
const Kernels<T>& kernels_for(Device device) {
  return backend_for(device).kernels<T>();
}

}  // namespace cxr
