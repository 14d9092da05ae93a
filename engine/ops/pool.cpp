// max_pool2d, avg_pool2d and global_avg_pool2d, on the CPU or the GPU (the kernels
// of the input's device; outputs live there too).
#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/device_buffer.h"
#include "engine/ops.h"

#include <memory>
#include <vector>

namespace cxr {

namespace {

// Checks the input and the window (as torch: padding at most half the kernel, so
// every window holds at least one real pixel) and derives the output size.
Pool2dShape pool_shape(const char* op, const Tensor& x, int kernel, int stride, int padding) {
  check_dim(op, "input", x, 4);
  check_contiguous(op, x);
  CXR_CHECK(kernel >= 1 && stride >= 1 && padding >= 0,
            "{}: need kernel >= 1, stride >= 1, padding >= 0, got kernel {}, stride {}, padding {}", op, kernel, stride,
            padding);
  CXR_CHECK(2 * padding <= kernel, "{}: padding {} is more than half the kernel {}", op, padding, kernel);
  Pool2dShape s{x.size(0), x.size(1), x.size(2), x.size(3), kernel, stride, padding, 0, 0};
  CXR_CHECK(s.H >= 1 && s.W >= 1 && s.H + 2 * padding >= kernel && s.W + 2 * padding >= kernel,
            "{}: kernel {} is larger than input {} with padding {}", op, kernel, shape_str(x.shape()), padding);
  s.out_h = (s.H + 2 * padding - kernel) / stride + 1;
  s.out_w = (s.W + 2 * padding - kernel) / stride + 1;
  return s;
}

Shape output_shape(const Pool2dShape& s) {
  return {s.N, s.C, s.out_h, s.out_w};
}
Shape input_shape(const Pool2dShape& s) {
  return {s.N, s.C, s.H, s.W};
}

}  // namespace

Tensor max_pool2d(const Tensor& x, int kernel, int stride, int padding) {
  const Pool2dShape s = pool_shape("max_pool2d", x, kernel, stride, padding);
  Tensor out = Tensor::empty(output_shape(s), x.dtype(), x.device());
  // Indices h*W + w of each output's maximum within its map (int32: no int tensor
  // dtype), on the input's device.
  auto argmax = std::make_shared<DeviceBuffer<std::int32_t>>(out.numel(), x.device());
  dispatch_float(x.dtype(), "max_pool2d", [&]<class T>() {
    kernels_for<T>(x.device()).max_pool2d_forward(out.data<T>(), argmax->get(), x.data<T>(), s);
  });
  record(out, "max_pool2d", {x}, [s, argmax](const Tensor& dout_any) {
    const Tensor dout = dout_any.contiguous();
    Tensor dx = Tensor::empty(input_shape(s), dout.dtype(), dout.device());
    dispatch_float(dout.dtype(), "max_pool2d backward", [&]<class T>() {
      kernels_for<T>(dout.device()).max_pool2d_backward(dx.data<T>(), dout.data<T>(), argmax->get(), s);
    });
    return std::vector<Tensor>{dx};
  });
  return out;
}

Tensor avg_pool2d(const Tensor& x, int kernel, int stride, int padding) {
  const Pool2dShape s = pool_shape("avg_pool2d", x, kernel, stride, padding);
  Tensor out = Tensor::empty(output_shape(s), x.dtype(), x.device());
  dispatch_float(x.dtype(), "avg_pool2d",
                 [&]<class T>() { kernels_for<T>(x.device()).avg_pool2d_forward(out.data<T>(), x.data<T>(), s); });
  record(out, "avg_pool2d", {x}, [s](const Tensor& dout_any) {
    const Tensor dout = dout_any.contiguous();
    Tensor dx = Tensor::empty(input_shape(s), dout.dtype(), dout.device());
    dispatch_float(dout.dtype(), "avg_pool2d backward", [&]<class T>() {
      kernels_for<T>(dout.device()).avg_pool2d_backward(dx.data<T>(), dout.data<T>(), s);
    });
    return std::vector<Tensor>{dx};
  });
  return out;
}

Tensor global_avg_pool2d(const Tensor& x) {
  check_dim("global_avg_pool2d", "input", x, 4);
  check_contiguous("global_avg_pool2d", x);
  const Shape in_shape = x.shape();
  const std::int64_t maps = x.size(0) * x.size(1), HW = x.size(2) * x.size(3);
  CXR_CHECK(HW > 0, "global_avg_pool2d: input {} has empty maps", shape_str(in_shape));
  Tensor out = Tensor::empty({x.size(0), x.size(1)}, x.dtype(), x.device());
  dispatch_float(x.dtype(), "global_avg_pool2d", [&]<class T>() {
    kernels_for<T>(x.device()).global_avg_pool2d_forward(out.data<T>(), x.data<T>(), maps, HW);
  });
  record(out, "global_avg_pool2d", {x}, [in_shape, maps, HW](const Tensor& dout_any) {
    const Tensor dout = dout_any.contiguous();
    Tensor dx = Tensor::empty(in_shape, dout.dtype(), dout.device());
    dispatch_float(dout.dtype(), "global_avg_pool2d backward", [&]<class T>() {
      kernels_for<T>(dout.device()).global_avg_pool2d_backward(dx.data<T>(), dout.data<T>(), maps, HW);
    });
    return std::vector<Tensor>{dx};
  });
  return out;
}

}  // namespace cxr
