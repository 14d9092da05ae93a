// softmax, log_softmax and cross_entropy over the last dimension of [N, C].
#include "engine/autograd.h"
#include "engine/ops.h"
#include "kernels/cpu/softmax.h"

namespace cxr {

namespace {

void check_rows(const char* op, const Tensor& x) {
  check_dim(op, "input", x, 2);
  check_contiguous(op, x);
  CXR_CHECK(x.size(0) >= 1 && x.size(1) >= 1, "{}: input {} is empty", op, shape_str(x.shape()));
}

}  // namespace

Tensor softmax(const Tensor& x) {
  check_rows("softmax", x);
  const std::int64_t N = x.size(0), C = x.size(1);
  Tensor out = Tensor::empty_like(x);
  dispatch_float(x.dtype(), "softmax", [&]<class T>() {
    cpu::softmax_forward(out.data<T>(), x.data<T>(), N, C);
  });
  if (any_requires_grad({&x})) {
    record(out, "softmax", {x}, [saved_out = out.detach()](const Tensor& dout_any) {
      const Tensor dout = dout_any.contiguous();
      Tensor dx = Tensor::empty_like(dout);
      dispatch_float(dout.dtype(), "softmax backward", [&]<class T>() {
        cpu::softmax_backward(dx.data<T>(), saved_out.data<T>(), dout.data<T>(), dout.size(0),
                              dout.size(1));
      });
      return std::vector<Tensor>{dx};
    });
  }
  return out;
}

Tensor log_softmax(const Tensor& x) {
  check_rows("log_softmax", x);
  const std::int64_t N = x.size(0), C = x.size(1);
  Tensor out = Tensor::empty_like(x);
  dispatch_float(x.dtype(), "log_softmax", [&]<class T>() {
    cpu::log_softmax_forward(out.data<T>(), x.data<T>(), N, C);
  });
  if (any_requires_grad({&x})) {
    record(out, "log_softmax", {x}, [saved_out = out.detach()](const Tensor& dout_any) {
      const Tensor dout = dout_any.contiguous();
      Tensor dx = Tensor::empty_like(dout);
      dispatch_float(dout.dtype(), "log_softmax backward", [&]<class T>() {
        cpu::log_softmax_backward(dx.data<T>(), saved_out.data<T>(), dout.data<T>(),
                                  dout.size(0), dout.size(1));
      });
      return std::vector<Tensor>{dx};
    });
  }
  return out;
}

Tensor cross_entropy(const Tensor& logits, const std::vector<int>& labels,
                     const Tensor& class_weights) {
  check_rows("cross_entropy", logits);
  const std::int64_t N = logits.size(0), C = logits.size(1);
  CXR_CHECK(static_cast<std::int64_t>(labels.size()) == N,
            "cross_entropy: {} labels for logits {}", labels.size(), shape_str(logits.shape()));
  for (std::int64_t i = 0; i < N; ++i)
    CXR_CHECK(labels[i] >= 0 && labels[i] < C,
              "cross_entropy: label {} of sample {} is out of range for {} classes (0..{})",
              labels[i], i, C, C - 1);
  if (class_weights.defined()) {
    CXR_CHECK(class_weights.shape() == Shape{C},
              "cross_entropy: class_weights has shape {}, expected [{}] for logits {}",
              shape_str(class_weights.shape()), C, shape_str(logits.shape()));
    CXR_CHECK(class_weights.dtype() == logits.dtype(), "cross_entropy: class_weights is {}, logits are {}",
              class_weights.str(), logits.str());
    CXR_CHECK(!class_weights.requires_grad(),
              "cross_entropy: class_weights are constants and must not require grad");
    check_contiguous("cross_entropy", class_weights);
  }

  Tensor logp = Tensor::empty_like(logits);
  const double loss = dispatch_float(logits.dtype(), "cross_entropy", [&]<class T>() {
    return cpu::cross_entropy_forward(logp.data<T>(), logits.data<T>(), labels.data(),
                                      class_weights.defined() ? class_weights.data<T>() : nullptr,
                                      N, C);
  });
  Tensor out = Tensor::full({}, loss, logits.dtype());
  if (any_requires_grad({&logits})) {
    record(out, "cross_entropy", {logits},
           [logp, labels, weights = class_weights.defined() ? class_weights.detach() : Tensor()](
               const Tensor& dout) {
             Tensor dlogits = Tensor::empty_like(logp);
             dispatch_float(logp.dtype(), "cross_entropy backward", [&]<class T>() {
               cpu::cross_entropy_backward(dlogits.data<T>(), logp.data<T>(), labels.data(),
                                           weights.defined() ? weights.data<T>() : nullptr,
                                           dout.item(), logp.size(0), logp.size(1));
             });
             return std::vector<Tensor>{dlogits};
           });
  }
  return out;
}

}  // namespace cxr
