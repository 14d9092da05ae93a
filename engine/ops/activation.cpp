// sigmoid, tanh and leaky_relu, on the CPU or the GPU (the kernels of the input's
// device). Sigmoid and tanh keep their output for the backward (their derivatives are
// functions of it); leaky ReLU keeps its input.
#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/ops.h"

#include <cmath>

namespace cxr {

Tensor sigmoid(const Tensor& x) {
  check_contiguous("sigmoid", x);
  Tensor out = Tensor::empty_like(x);
  dispatch_float(x.dtype(), "sigmoid",
                 [&]<class T>() { kernels_for<T>(x.device()).sigmoid_forward(out.data<T>(), x.data<T>(), x.numel()); });
  if (any_requires_grad({&x})) {
    record(out, "sigmoid", {x}, [saved_out = out.detach()](const Tensor& dout_any) {
      const Tensor dout = dout_any.contiguous();
      Tensor dx = Tensor::empty_like(dout);
      dispatch_float(dout.dtype(), "sigmoid backward", [&]<class T>() {
        kernels_for<T>(dout.device()).sigmoid_backward(dx.data<T>(), saved_out.data<T>(), dout.data<T>(), dout.numel());
      });
      return std::vector<Tensor>{dx};
    });
  }
  return out;
}

Tensor tanh(const Tensor& x) {
  check_contiguous("tanh", x);
  Tensor out = Tensor::empty_like(x);
  dispatch_float(x.dtype(), "tanh",
                 [&]<class T>() { kernels_for<T>(x.device()).tanh_forward(out.data<T>(), x.data<T>(), x.numel()); });
  if (any_requires_grad({&x})) {
    record(out, "tanh", {x}, [saved_out = out.detach()](const Tensor& dout_any) {
      const Tensor dout = dout_any.contiguous();
      Tensor dx = Tensor::empty_like(dout);
      dispatch_float(dout.dtype(), "tanh backward", [&]<class T>() {
        kernels_for<T>(dout.device()).tanh_backward(dx.data<T>(), saved_out.data<T>(), dout.data<T>(), dout.numel());
      });
      return std::vector<Tensor>{dx};
    });
  }
  return out;
}

Tensor leaky_relu(const Tensor& x, double negative_slope) {
  CXR_CHECK(std::isfinite(negative_slope), "leaky_relu: negative_slope must be finite, got {}", negative_slope);
  check_contiguous("leaky_relu", x);
  Tensor out = Tensor::empty_like(x);
  dispatch_float(x.dtype(), "leaky_relu", [&]<class T>() {
    kernels_for<T>(x.device())
        .leaky_relu_forward(out.data<T>(), x.data<T>(), static_cast<T>(negative_slope), x.numel());
  });
  if (any_requires_grad({&x})) {
    record(out, "leaky_relu", {x}, [saved_x = x.detach(), negative_slope](const Tensor& dout_any) {
      const Tensor dout = dout_any.contiguous();
      Tensor dx = Tensor::empty_like(dout);
      dispatch_float(dout.dtype(), "leaky_relu backward", [&]<class T>() {
        kernels_for<T>(dout.device())
            .leaky_relu_backward(dx.data<T>(), saved_x.data<T>(), dout.data<T>(), static_cast<T>(negative_slope),
                                 dout.numel());
      });
      return std::vector<Tensor>{dx};
    });
  }
  return out;
}

}  // namespace cxr
