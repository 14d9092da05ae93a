#include "engine/storage.h"

#include "engine/check.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace cxr {

namespace {
constexpr std::size_t kAlignment = 64;
}

Storage::Storage(std::size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  CXR_CHECK(device.is_cpu(), "Storage: device {} is not available in this build", device.str());
  const std::size_t rounded = (nbytes + kAlignment - 1) / kAlignment * kAlignment;
  data_ = std::aligned_alloc(kAlignment, rounded == 0 ? kAlignment : rounded);
  if (!data_) throw std::bad_alloc();
  std::memset(data_, 0, rounded == 0 ? kAlignment : rounded);
}

Storage::~Storage() { std::free(data_); }

}  // namespace cxr
