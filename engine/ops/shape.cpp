// reshape and flatten: views of contiguous tensors; the gradient is reshaped back.
#include "engine/autograd.h"
#include "engine/ops.h"

namespace cxr {

Tensor reshape(const Tensor& x, const Shape& shape) {
  Tensor out = x.detach().view(shape);
  const Shape input_shape = x.shape();
  record(out, "reshape", {x},
         [input_shape](const Tensor& dout) { return std::vector<Tensor>{dout.contiguous().view(input_shape)}; });
  return out;
}

Tensor flatten(const Tensor& x) {
  CXR_CHECK(x.dim() >= 1, "flatten: tensor {} has no batch dimension", x.str());
  return reshape(x, {x.size(0), -1});
}

}  // namespace cxr
