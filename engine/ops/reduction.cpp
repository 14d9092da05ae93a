// sum and mean over all elements. The backward broadcasts the scalar gradient.
// On the GPU the total comes back to the host (one wait) and the 0-d result is
// written on the input's device.
#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/ops.h"

namespace cxr {

namespace {
Tensor reduce_all(const char* op, const Tensor& x, double scale) {
  check_contiguous(op, x);
  const double total = dispatch_float(
      x.dtype(), op, [&]<class T>() { return kernels_for<T>(x.device()).sum_forward(x.data<T>(), x.numel()); });
  Tensor out = Tensor::full({}, total * scale, x.dtype(), x.device());
  const Shape input_shape = x.shape();
  record(out, op, {x}, [input_shape, scale](const Tensor& dout) {
    return std::vector<Tensor>{Tensor::full(input_shape, dout.item() * scale, dout.dtype(), dout.device())};
  });
  return out;
}
}  // namespace

Tensor sum(const Tensor& x) {
  return reduce_all("sum", x, 1.0);
}

Tensor mean(const Tensor& x) {
  CXR_CHECK(x.numel() > 0, "mean: tensor {} is empty", x.str());
  return reduce_all("mean", x, 1.0 / static_cast<double>(x.numel()));
}

}  // namespace cxr
