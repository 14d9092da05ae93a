// resize_bilinear: half-pixel bilinear resampling of NCHW maps, on the CPU or the
// GPU (the kernels of the input's device; outputs live there too).
#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/ops.h"

namespace cxr {

Tensor resize_bilinear(const Tensor& x, int out_h, int out_w) {
  check_dim("resize_bilinear", "input", x, 4);
  check_contiguous("resize_bilinear", x);
  CXR_CHECK(out_h >= 1 && out_w >= 1, "resize_bilinear: output size {}x{} must be positive", out_h, out_w);
  const Shape in_shape = x.shape();
  const std::int64_t maps = x.size(0) * x.size(1), H = x.size(2), W = x.size(3);
  CXR_CHECK(H >= 1 && W >= 1, "resize_bilinear: input {} has empty maps", shape_str(in_shape));
  Tensor out = Tensor::empty({x.size(0), x.size(1), out_h, out_w}, x.dtype(), x.device());
  dispatch_float(x.dtype(), "resize_bilinear", [&]<class T>() {
    kernels_for<T>(x.device()).resize_bilinear_forward(out.data<T>(), x.data<T>(), maps, H, W, out_h, out_w);
  });
  record(out, "resize_bilinear", {x}, [in_shape, maps, H, W, out_h, out_w](const Tensor& dout_any) {
    const Tensor dout = dout_any.contiguous();
    Tensor dx = Tensor::empty(in_shape, dout.dtype(), dout.device());
    dispatch_float(dout.dtype(), "resize_bilinear backward", [&]<class T>() {
      kernels_for<T>(dout.device()).resize_bilinear_backward(dx.data<T>(), dout.data<T>(), maps, H, W, out_h, out_w);
    });
    return std::vector<Tensor>{dx};
  });
  return out;
}

}  // namespace cxr
