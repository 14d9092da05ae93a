// conv2d and linear: input checks, the CPU or CUDA kernels (by the input's device),
// and the backward closures. A closure saves only what its gradients need (x for
// dweight, weight for dx) and skips the input gradient when the input does not
// require grad (the stem's image).
#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/ops.h"
#include "engine/relu_backward.h"

namespace cxr {

namespace {

template <class T>
T* data_or_null(Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}
template <class T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// Common checks of the parameters of conv2d and linear (devices: check_same_device).
void check_parameter(const char* op, const char* what, const Tensor& x, const Tensor& t) {
  CXR_CHECK(t.dtype() == x.dtype(), "{}: {} is {} but the input is {}", op, what, t.str(), x.str());
  check_contiguous(op, t);
}

void check_bias(const char* op, const Tensor& x, const Tensor& bias, std::int64_t outputs, const Tensor& weight) {
  if (!bias.defined()) return;
  check_dim(op, "bias", bias, 1);
  CXR_CHECK(bias.size(0) == outputs, "{}: bias has {} elements, weight has {} outputs (bias {}, weight {})", op,
            bias.size(0), outputs, shape_str(bias.shape()), shape_str(weight.shape()));
  check_parameter(op, "bias", x, bias);
}

Conv2dShape checked_conv2d_shape(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& opt) {
  check_dim("conv2d", "input", x, 4);
  check_dim("conv2d", "weight", weight, 4);
  check_same_device("conv2d", {&x, &weight, &bias});
  check_contiguous("conv2d", x);
  check_parameter("conv2d", "weight", x, weight);
  const std::string wshape = shape_str(weight.shape());
  CXR_CHECK(opt.stride >= 1, "conv2d: stride must be at least 1, got {}", opt.stride);
  CXR_CHECK(opt.padding >= 0, "conv2d: padding must be non-negative, got {}", opt.padding);
  CXR_CHECK(opt.groups >= 1, "conv2d: groups must be at least 1, got {}", opt.groups);
  const std::int64_t C_in = x.size(1), H = x.size(2), W = x.size(3);
  const std::int64_t C_out = weight.size(0), K = weight.size(2);
  CXR_CHECK(weight.size(3) == K && K >= 1, "conv2d: the kernel must be square (weight {})", wshape);
  CXR_CHECK(C_out % opt.groups == 0, "conv2d: {} output channels are not divisible into {} groups (weight {})", C_out,
            opt.groups, wshape);
  CXR_CHECK(C_in == weight.size(1) * opt.groups, "conv2d: input has {} channels, weight expects {} (weight {}{})", C_in,
            weight.size(1) * opt.groups, wshape,
            opt.groups > 1 ? fmt::format(", groups {}", opt.groups) : std::string());
  CXR_CHECK(H + 2 * opt.padding >= K && W + 2 * opt.padding >= K,
            "conv2d: input {} with padding {} is smaller than the {}x{} kernel", shape_str(x.shape()), opt.padding, K,
            K);
  check_bias("conv2d", x, bias, C_out, weight);
  return conv2d_shape(x.size(0), C_in, H, W, C_out, K, opt.stride, opt.padding, opt.groups);
}

Tensor conv2d_impl(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& opt,
                   bool relu) {
  const Conv2dShape s = checked_conv2d_shape(x, weight, bias, opt);
  Tensor y = Tensor::empty({s.N, s.C_out, s.H_out, s.W_out}, x.dtype(), x.device());
  dispatch_float(x.dtype(), op, [&]<class T>() {
    kernels_for<T>(x.device())
        .conv2d_forward(y.data<T>(), x.data<T>(), weight.data<T>(), data_or_null<T>(bias), s, relu);
  });
  if (!any_requires_grad({&x, &weight, &bias})) return y;

  const bool need_dx = x.requires_grad(), need_dw = weight.requires_grad();
  const bool need_db = bias.defined() && bias.requires_grad();
  const Tensor saved_x = need_dw ? x.detach() : Tensor();
  const Tensor saved_w = need_dx ? weight.detach() : Tensor();
  const Shape x_shape = x.shape(), w_shape = weight.shape();
  const Tensor saved_y = relu ? y.detach() : Tensor();  // the ReLU mask; detached, never y itself
  const ReluBackward rule = relu_backward_rule();
  record(y, op, {x, weight, bias}, [=](const Tensor& grad) {
    Tensor dy = relu ? relu_incoming_gradient(grad, rule) : grad.contiguous();
    if (relu) {
      Tensor masked = Tensor::empty_like(dy);
      dispatch_float(dy.dtype(), "conv2d_relu backward", [&]<class T>() {
        kernels_for<T>(dy.device()).relu_backward(masked.data<T>(), saved_y.data<T>(), dy.data<T>(), dy.numel());
      });
      dy = masked;
    }
    Tensor dx = need_dx ? Tensor::empty(x_shape, dy.dtype(), dy.device()) : Tensor();
    Tensor dw = need_dw ? Tensor::empty(w_shape, dy.dtype(), dy.device()) : Tensor();
    Tensor db = need_db ? Tensor::empty({s.C_out}, dy.dtype(), dy.device()) : Tensor();
    dispatch_float(dy.dtype(), "conv2d backward", [&]<class T>() {
      kernels_for<T>(dy.device())
          .conv2d_backward(data_or_null<T>(dx), data_or_null<T>(dw), data_or_null<T>(db), dy.data<T>(),
                           data_or_null<T>(saved_x), data_or_null<T>(saved_w), s);
    });
    return std::vector<Tensor>{dx, dw, db};
  });
  return y;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& opt) {
  return conv2d_impl("conv2d", x, weight, bias, opt, false);
}

Tensor conv2d_relu(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& opt) {
  return conv2d_impl("conv2d_relu", x, weight, bias, opt, true);
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_dim("linear", "input", x, 2);
  check_dim("linear", "weight", weight, 2);
  check_same_device("linear", {&x, &weight, &bias});
  check_contiguous("linear", x);
  check_parameter("linear", "weight", x, weight);
  const std::int64_t N = x.size(0), in = x.size(1), out = weight.size(0);
  CXR_CHECK(weight.size(1) == in, "linear: input has {} features, weight expects {} (input {}, weight {})", in,
            weight.size(1), shape_str(x.shape()), shape_str(weight.shape()));
  check_bias("linear", x, bias, out, weight);

  Tensor y = Tensor::empty({N, out}, x.dtype(), x.device());
  dispatch_float(x.dtype(), "linear", [&]<class T>() {
    kernels_for<T>(x.device())
        .linear_forward(y.data<T>(), x.data<T>(), weight.data<T>(), data_or_null<T>(bias), N, in, out);
  });
  if (!any_requires_grad({&x, &weight, &bias})) return y;

  const bool need_dx = x.requires_grad(), need_dw = weight.requires_grad();
  const bool need_db = bias.defined() && bias.requires_grad();
  const Tensor saved_x = need_dw ? x.detach() : Tensor();
  const Tensor saved_w = need_dx ? weight.detach() : Tensor();
  record(y, "linear", {x, weight, bias}, [=](const Tensor& grad) {
    const Tensor dy = grad.contiguous();
    Tensor dx = need_dx ? Tensor::empty({N, in}, dy.dtype(), dy.device()) : Tensor();
    Tensor dw = need_dw ? Tensor::empty({out, in}, dy.dtype(), dy.device()) : Tensor();
    Tensor db = need_db ? Tensor::empty({out}, dy.dtype(), dy.device()) : Tensor();
    dispatch_float(dy.dtype(), "linear backward", [&]<class T>() {
      kernels_for<T>(dy.device())
          .linear_backward(data_or_null<T>(dx), data_or_null<T>(dw), data_or_null<T>(db), dy.data<T>(),
                           data_or_null<T>(saved_x), data_or_null<T>(saved_w), N, in, out);
    });
    return std::vector<Tensor>{dx, dw, db};
  });
  return y;
}

}  // namespace cxr
