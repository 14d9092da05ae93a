// What the CUDA backend can see at run time. Declared for every build; without
// CUDA the answers say "not compiled".
#pragma once

#include <string>

namespace cxr::cuda {

bool compiled();          // built with the CUDA backend
int device_count();       // 0 when not compiled, no driver or no GPU
std::string describe();   // one line for `cxr --version`

}  // namespace cxr::cuda
