#include "engine/storage.h"

#include "engine/backend.h"

#include <cstdlib>

namespace cxr {

namespace {

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

Storage::Storage(std::size_t nbytes, Device device, bool zero_fill)
    : backend_(&backend_for(device)), nbytes_(nbytes), device_(device) {
  data_ = backend_->allocate(nbytes);
  if (zero_fill || poison_empty()) backend_->fill_bytes(data_, zero_fill ? 0x00 : 0xFF, nbytes);
}

Storage::~Storage() {
  backend_->deallocate(data_, nbytes_);
}

std::size_t cpu_cache_bytes() {
  return cpu_backend().cached_bytes();
}
void release_cpu_cache() {
  cpu_backend().release_cache();
}

}  // namespace cxr
