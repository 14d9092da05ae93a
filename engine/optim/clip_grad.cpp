#include "engine/optim/clip_grad.h"

#include "engine/backend.h"
#include "engine/ops.h"

#include <cmath>

namespace cxr {

double clip_grad_norm(ParameterSet& params, double max_norm) {
  CXR_CHECK(max_norm > 0, "clip_grad_norm: max_norm must be positive, got {}", max_norm);
  Tensor& g = params.grads();
  const double norm = std::sqrt(dispatch_float(g.dtype(), "clip_grad_norm", [&]<class T>() {
    return kernels_for<T>(g.device()).sum_of_squares(g.data<T>(), g.numel());  // waits for a GPU
  }));
  if (norm > max_norm) scale_(g, max_norm / (norm + 1e-6));
  return norm;
}

}  // namespace cxr
