// add, mul_scalar, gradient_reversal, relu, dropout and the in-place helpers, on the
// CPU or the GPU (the kernels of the tensors' device; outputs live there too).
#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/ops.h"
#include "engine/random.h"
#include "engine/relu_backward.h"

#include <cmath>

namespace cxr {

namespace {
void check_elementwise(const char* op, const Tensor& x) {
  check_contiguous(op, x);
}
}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  check_same_shape("add", a, b);
  check_same_device("add", {&a, &b});
  CXR_CHECK(a.dtype() == b.dtype(), "add: dtypes differ: {} vs {}", a.str(), b.str());
  check_elementwise("add", a);
  check_elementwise("add", b);
  Tensor out = Tensor::empty_like(a);
  dispatch_float(a.dtype(), "add", [&]<class T>() {
    kernels_for<T>(a.device()).add_forward(out.data<T>(), a.data<T>(), b.data<T>(), a.numel());
  });
  // d(a+b)/da = d(a+b)/db = identity: both inputs receive the output gradient.
  record(out, "add", {a, b}, [](const Tensor& dout) { return std::vector<Tensor>{dout, dout}; });
  return out;
}

void add_(Tensor& a, const Tensor& b) {
  check_same_shape("add_", a, b);
  check_same_device("add_", {&a, &b});
  CXR_CHECK(a.dtype() == b.dtype(), "add_: dtypes differ: {} vs {}", a.str(), b.str());
  check_elementwise("add_", a);
  check_elementwise("add_", b);
  dispatch_float(a.dtype(), "add_",
                 [&]<class T>() { kernels_for<T>(a.device()).add_inplace(a.data<T>(), b.data<T>(), a.numel()); });
}

void scale_(Tensor& a, double s) {
  check_elementwise("scale_", a);
  dispatch_float(a.dtype(), "scale_", [&]<class T>() {
    kernels_for<T>(a.device()).scale_inplace(a.data<T>(), static_cast<T>(s), a.numel());
  });
}

Tensor mul_scalar(const Tensor& x, double s) {
  check_elementwise("mul_scalar", x);
  Tensor out = Tensor::empty_like(x);
  dispatch_float(x.dtype(), "mul_scalar", [&]<class T>() {
    kernels_for<T>(x.device()).scale_forward(out.data<T>(), x.data<T>(), static_cast<T>(s), x.numel());
  });
  record(out, "mul_scalar", {x}, [s](const Tensor& dout) { return std::vector<Tensor>{mul_scalar(dout, s)}; });
  return out;
}

Tensor gradient_reversal(const Tensor& x, double lambda) {
  CXR_CHECK(std::isfinite(lambda) && lambda >= 0.0, "gradient_reversal: lambda must be finite and >= 0, got {}",
            lambda);
  check_elementwise("gradient_reversal", x);
  // A copy, not x itself: the output gets its own grad_fn, and x (often a leaf or
  // another op's output) must keep its own.
  Tensor out = x.clone();
  record(out, "gradient_reversal", {x},
         [lambda](const Tensor& dout) { return std::vector<Tensor>{mul_scalar(dout, -lambda)}; });
  return out;
}

Tensor relu(const Tensor& x) {
  check_elementwise("relu", x);
  Tensor out = Tensor::empty_like(x);
  dispatch_float(x.dtype(), "relu",
                 [&]<class T>() { kernels_for<T>(x.device()).relu_forward(out.data<T>(), x.data<T>(), x.numel()); });
  if (any_requires_grad({&x})) {
    Tensor saved_out = out.detach();  // detached: a node must not own its own output
    record(out, "relu", {x}, [saved_out, rule = relu_backward_rule()](const Tensor& dout_any) {
      const Tensor dout = relu_incoming_gradient(dout_any, rule);
      Tensor dx = Tensor::empty_like(dout);
      dispatch_float(dout.dtype(), "relu backward", [&]<class T>() {
        kernels_for<T>(dout.device()).relu_backward(dx.data<T>(), saved_out.data<T>(), dout.data<T>(), dout.numel());
      });
      return std::vector<Tensor>{dx};
    });
  }
  return out;
}

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  CXR_CHECK(p >= 0.0 && p < 1.0, "dropout: p must be in [0, 1), got {}", p);
  if (!training || p == 0.0) return x;
  check_elementwise("dropout", x);
  const std::uint64_t key = gen.next_u64();
  Tensor out = Tensor::empty_like(x);
  dispatch_float(x.dtype(), "dropout", [&]<class T>() {
    kernels_for<T>(x.device()).dropout_forward(out.data<T>(), x.data<T>(), p, key, x.numel());
  });
  record(out, "dropout", {x}, [p, key](const Tensor& dout) {
    Tensor dx = Tensor::empty_like(dout);
    dispatch_float(dout.dtype(), "dropout backward", [&]<class T>() {
      kernels_for<T>(dout.device()).dropout_backward(dx.data<T>(), dout.data<T>(), p, key, dout.numel());
    });
    return std::vector<Tensor>{dx};
  });
  return out;
}

}  // namespace cxr
