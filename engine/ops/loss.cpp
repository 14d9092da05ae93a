// softmax, log_softmax, cross_entropy and label_set_cross_entropy over the last
// dimension of [N, C], on the CPU or the GPU (the kernels of the logits' device; outputs
// live there too). The labels (or masks) are copied to that device once per call and
// kept for the backward; from the GPU the loss value comes back to the host (one wait),
// as the CPU kernel returns it.
#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/device_buffer.h"
#include "engine/ops.h"

#include <cstdint>
#include <memory>

namespace cxr {

namespace {

void check_rows(const char* op, const Tensor& x) {
  check_dim(op, "input", x, 2);
  check_contiguous(op, x);
  CXR_CHECK(x.size(0) >= 1 && x.size(1) >= 1, "{}: input {} is empty", op, shape_str(x.shape()));
}

// Constant per-class weights [C] beside the logits, when given.
void check_class_weights(const char* op, const Tensor& logits, const Tensor& class_weights) {
  if (!class_weights.defined()) return;
  const std::int64_t C = logits.size(1);
  CXR_CHECK(class_weights.shape() == Shape{C}, "{}: class_weights has shape {}, expected [{}] for logits {}", op,
            shape_str(class_weights.shape()), C, shape_str(logits.shape()));
  CXR_CHECK(class_weights.dtype() == logits.dtype(), "{}: class_weights is {}, logits are {}", op, class_weights.str(),
            logits.str());
  CXR_CHECK(!class_weights.requires_grad(), "{}: class_weights are constants and must not require grad", op);
  check_contiguous(op, class_weights);
  check_same_device(op, {&logits, &class_weights});
}

}  // namespace

Tensor softmax(const Tensor& x) {
  check_rows("softmax", x);
  const std::int64_t N = x.size(0), C = x.size(1);
  Tensor out = Tensor::empty_like(x);
  dispatch_float(x.dtype(), "softmax",
                 [&]<class T>() { kernels_for<T>(x.device()).softmax_forward(out.data<T>(), x.data<T>(), N, C); });
  if (any_requires_grad({&x})) {
    record(out, "softmax", {x}, [saved_out = out.detach()](const Tensor& dout_any) {
      const Tensor dout = dout_any.contiguous();
      Tensor dx = Tensor::empty_like(dout);
      dispatch_float(dout.dtype(), "softmax backward", [&]<class T>() {
        kernels_for<T>(dout.device())
            .softmax_backward(dx.data<T>(), saved_out.data<T>(), dout.data<T>(), dout.size(0), dout.size(1));
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
  dispatch_float(x.dtype(), "log_softmax",
                 [&]<class T>() { kernels_for<T>(x.device()).log_softmax_forward(out.data<T>(), x.data<T>(), N, C); });
  if (any_requires_grad({&x})) {
    record(out, "log_softmax", {x}, [saved_out = out.detach()](const Tensor& dout_any) {
      const Tensor dout = dout_any.contiguous();
      Tensor dx = Tensor::empty_like(dout);
      dispatch_float(dout.dtype(), "log_softmax backward", [&]<class T>() {
        kernels_for<T>(dout.device())
            .log_softmax_backward(dx.data<T>(), saved_out.data<T>(), dout.data<T>(), dout.size(0), dout.size(1));
      });
      return std::vector<Tensor>{dx};
    });
  }
  return out;
}

Tensor cross_entropy(const Tensor& logits, const std::vector<int>& labels, const Tensor& class_weights) {
  check_rows("cross_entropy", logits);
  const std::int64_t N = logits.size(0), C = logits.size(1);
  CXR_CHECK(static_cast<std::int64_t>(labels.size()) == N, "cross_entropy: {} labels for logits {}", labels.size(),
            shape_str(logits.shape()));
  for (std::int64_t i = 0; i < N; ++i)
    CXR_CHECK(labels[i] >= 0 && labels[i] < C,
              "cross_entropy: label {} of sample {} is out of range for {} classes (0..{})", labels[i], i, C, C - 1);
  check_class_weights("cross_entropy", logits, class_weights);

  // The labels where the kernels read them (a copy on the logits' device), shared
  // with the backward.
  const auto device_labels = std::make_shared<const DeviceBuffer<int>>(labels.data(), N, logits.device());
  Tensor logp = Tensor::empty_like(logits);
  const double loss = dispatch_float(logits.dtype(), "cross_entropy", [&]<class T>() {
    const T* weights = class_weights.defined() ? class_weights.data<T>() : nullptr;
    return kernels_for<T>(logits.device())
        .cross_entropy_forward(logp.data<T>(), logits.data<T>(), device_labels->get(), weights, N, C);
  });
  Tensor out = Tensor::full({}, loss, logits.dtype(), logits.device());
  if (any_requires_grad({&logits})) {
    record(out, "cross_entropy", {logits},
           [logp, device_labels,
            weights = class_weights.defined() ? class_weights.detach() : Tensor()](const Tensor& dout) {
             Tensor dlogits = Tensor::empty_like(logp);
             dispatch_float(logp.dtype(), "cross_entropy backward", [&]<class T>() {
               const T* w = weights.defined() ? weights.data<T>() : nullptr;
               kernels_for<T>(logp.device())
                   .cross_entropy_backward(dlogits.data<T>(), logp.data<T>(), device_labels->get(), w, dout.item(),
                                           logp.size(0), logp.size(1));
             });
             return std::vector<Tensor>{dlogits};
           });
  }
  return out;
}

Tensor label_set_cross_entropy(const Tensor& logits, const std::vector<std::uint32_t>& masks,
                               const Tensor& class_weights) {
  check_rows("label_set_cross_entropy", logits);
  const std::int64_t N = logits.size(0), C = logits.size(1);
  CXR_CHECK(C <= 32, "label_set_cross_entropy: logits {} have {} classes; a uint32 mask holds at most 32",
            shape_str(logits.shape()), C);
  CXR_CHECK(static_cast<std::int64_t>(masks.size()) == N, "label_set_cross_entropy: {} masks for logits {}",
            masks.size(), shape_str(logits.shape()));
  const std::uint64_t mask_end = std::uint64_t{1} << C;  // masks of bits < C are below 2^C
  for (std::int64_t i = 0; i < N; ++i) {
    CXR_CHECK(masks[i] != 0, "label_set_cross_entropy: the mask of sample {} is empty (no admissible class)", i);
    CXR_CHECK(masks[i] < mask_end,
              "label_set_cross_entropy: mask {:#x} of sample {} has a bit out of range for {} classes (bits 0..{})",
              masks[i], i, C, C - 1);
  }
  check_class_weights("label_set_cross_entropy", logits, class_weights);

  // The masks where the kernels read them (a copy on the logits' device), shared
  // with the backward.
  const auto device_masks = std::make_shared<const DeviceBuffer<std::uint32_t>>(masks.data(), N, logits.device());
  Tensor logp = Tensor::empty_like(logits);
  const double loss = dispatch_float(logits.dtype(), "label_set_cross_entropy", [&]<class T>() {
    const T* weights = class_weights.defined() ? class_weights.data<T>() : nullptr;
    return kernels_for<T>(logits.device())
        .label_set_cross_entropy_forward(logp.data<T>(), logits.data<T>(), device_masks->get(), weights, N, C);
  });
  Tensor out = Tensor::full({}, loss, logits.dtype(), logits.device());
  if (any_requires_grad({&logits})) {
    record(out, "label_set_cross_entropy", {logits},
           [logp, device_masks,
            weights = class_weights.defined() ? class_weights.detach() : Tensor()](const Tensor& dout) {
             Tensor dlogits = Tensor::empty_like(logp);
             dispatch_float(logp.dtype(), "label_set_cross_entropy backward", [&]<class T>() {
               const T* w = weights.defined() ? weights.data<T>() : nullptr;
               kernels_for<T>(logp.device())
                   .label_set_cross_entropy_backward(dlogits.data<T>(), logp.data<T>(), device_masks->get(), w,
                                                     dout.item(), logp.size(0), logp.size(1));
             });
             return std::vector<Tensor>{dlogits};
           });
  }
  return out;
}

}  // namespace cxr
