// Built instead of runtime.cu when CUDA is off.
#include "kernels/cuda/runtime.h"

namespace cxr::cuda {

bool compiled() { return false; }
int device_count() { return 0; }
std::string describe() { return "CUDA backend not compiled (configure with CXR_CUDA=ON and nvcc)"; }

}  // namespace cxr::cuda
