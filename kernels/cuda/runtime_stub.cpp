// Built instead of runtime.cu and backend_cuda.cpp when CUDA is off: queries say
// "not compiled", and everything that would touch a GPU throws.
#include "kernels/backend.h"
#include "kernels/cuda/runtime.h"

#include "base/check.h"

namespace cxr::cuda {

namespace {
[[noreturn]] void not_compiled(const char* what) {
  throw Error(fmt::format("{}: CUDA backend not compiled (configure with CXR_CUDA=ON and nvcc)", what));
}
}  // namespace

bool compiled() {
  return false;
}
int device_count() {
  return 0;
}
std::string describe() {
  return "CUDA backend not compiled (configure with CXR_CUDA=ON and nvcc)";
}

void require_device(int index) {
  not_compiled(fmt::format("cuda:{} is not available", index).c_str());
}

void* device_alloc(std::size_t) {
  not_compiled("device_alloc");
}
void device_free(void*, std::size_t) {
  not_compiled("device_free");
}
std::size_t cached_bytes() {
  return 0;
}
void release_cache() {}
void copy_bytes(void*, bool, const void*, bool, std::size_t) {
  not_compiled("copy_bytes");
}
void fill_bytes(void*, unsigned char, std::size_t) {
  not_compiled("fill_bytes");
}
template <class T>
void fill(T*, T, std::int64_t) {
  not_compiled("fill");
}
void synchronize() {
  not_compiled("synchronize");
}

template void fill<float>(float*, float, std::int64_t);
template void fill<double>(double*, double, std::int64_t);

}  // namespace cxr::cuda

namespace cxr {

const Backend& cuda_backend(int index) {
  cuda::not_compiled(fmt::format("cuda:{} is not available", index).c_str());
}

}  // namespace cxr
