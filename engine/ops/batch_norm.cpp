// batch_norm2d: training (batch statistics, running-statistics update) and
// evaluation (running statistics). The running statistics are buffers written in
// place, never graph inputs; the backward differentiates x, gamma and beta.
// batch_norm_relu2d is the same op with the following ReLU fused into its passes.
// The kernels run where the input lives (CPU or CUDA); every tensor must be there.
#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/ops.h"
#include "engine/relu_backward.h"

namespace cxr {

namespace {

void check_channel_vector(const char* op, const char* what, const Tensor& t, const Tensor& x) {
  CXR_CHECK(t.defined(), "{}: {} is undefined", op, what);
  CXR_CHECK(t.shape() == Shape{x.size(1)}, "{}: {} has shape {}, expected [{}] for input {}", op, what,
            shape_str(t.shape()), x.size(1), shape_str(x.shape()));
  CXR_CHECK(t.dtype() == x.dtype(), "{}: {} is {}, input is {}", op, what, t.str(), x.str());
  check_contiguous(op, t);
}

Tensor batch_norm_impl(const char* op, const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                       Tensor& running_var, bool training, double momentum, double eps, bool relu) {
  check_dim(op, "input", x, 4);
  check_contiguous(op, x);
  check_channel_vector(op, "weight", gamma, x);
  check_channel_vector(op, "bias", beta, x);
  check_channel_vector(op, "running_mean", running_mean, x);
  check_channel_vector(op, "running_var", running_var, x);
  check_same_device(op, {&x, &gamma, &beta, &running_mean, &running_var});
  CXR_CHECK(eps > 0, "{}: eps must be positive, got {}", op, eps);
  const std::int64_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
  CXR_CHECK(!training || N * HW > 1, "{}: training needs more than 1 value per channel, got input {}", op,
            shape_str(x.shape()));

  Tensor out = Tensor::empty_like(x);
  // The statistics the output is normalised with.
  Tensor mean = training ? Tensor::empty({C}, x.dtype(), x.device()) : running_mean;
  Tensor invstd = Tensor::empty({C}, x.dtype(), x.device());
  if (training) {
    dispatch_float(x.dtype(), op, [&]<class T>() {
      kernels_for<T>(x.device())
          .batch_norm_forward_train(out.data<T>(), mean.data<T>(), invstd.data<T>(), running_mean.data<T>(),
                                    running_var.data<T>(), x.data<T>(), gamma.data<T>(), beta.data<T>(), N, C, HW,
                                    momentum, eps, relu);
    });
  } else {
    dispatch_float(x.dtype(), op, [&]<class T>() {
      kernels_for<T>(x.device())
          .batch_norm_forward_eval(out.data<T>(), invstd.data<T>(), x.data<T>(), gamma.data<T>(), beta.data<T>(),
                                   running_mean.data<T>(), running_var.data<T>(), N, C, HW, eps, relu);
    });
  }

  if (any_requires_grad({&x, &gamma, &beta})) {
    const bool need_dx = x.requires_grad();
    if (!training) mean = running_mean.clone();  // a copy: later training steps move the buffer
    // The fused op masks dy with its own output: saved detached, never the output itself.
    const Tensor saved_out = relu ? out.detach() : Tensor();
    record(out, op, {x, gamma, beta},
           [saved_x = x.detach(), saved_gamma = gamma.detach(), saved_out, mean, invstd, training, need_dx,
            rule = relu_backward_rule()](const Tensor& dout_any) {
             const Tensor dout = saved_out.defined() ? relu_incoming_gradient(dout_any, rule) : dout_any.contiguous();
             const std::int64_t N = dout.size(0), C = dout.size(1), HW = dout.size(2) * dout.size(3);
             Tensor dx = need_dx ? Tensor::empty_like(dout) : Tensor();
             Tensor dgamma = Tensor::empty({C}, dout.dtype(), dout.device());
             Tensor dbeta = Tensor::empty({C}, dout.dtype(), dout.device());
             dispatch_float(dout.dtype(), "batch norm backward", [&]<class T>() {
               kernels_for<T>(dout.device())
                   .batch_norm_backward(need_dx ? dx.data<T>() : nullptr, dgamma.data<T>(), dbeta.data<T>(),
                                        dout.data<T>(), saved_x.data<T>(), mean.data<T>(), invstd.data<T>(),
                                        saved_gamma.data<T>(), N, C, HW, training,
                                        saved_out.defined() ? saved_out.data<T>() : nullptr);
             });
             return std::vector<Tensor>{dx, dgamma, dbeta};
           });
  }
  return out;
}

}  // namespace

Tensor batch_norm2d(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean, Tensor& running_var,
                    bool training, double momentum, double eps) {
  return batch_norm_impl("batch_norm2d", x, gamma, beta, running_mean, running_var, training, momentum, eps, false);
}

Tensor batch_norm_relu2d(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                         Tensor& running_var, bool training, double momentum, double eps) {
  return batch_norm_impl("batch_norm_relu2d", x, gamma, beta, running_mean, running_var, training, momentum, eps, true);
}

}  // namespace cxr
