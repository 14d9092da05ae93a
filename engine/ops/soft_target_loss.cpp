// soft_target_cross_entropy: the distillation loss, on the CPU or the GPU (the kernels
// of the logits' device). log_softmax(logits) is kept for the backward; the loss value
// comes back to the host (one wait on the GPU) and becomes a 0-d tensor on the logits'
// device. Targets are constants: they never receive a gradient.
#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/ops.h"

#include <vector>

namespace cxr {

Tensor soft_target_cross_entropy(const Tensor& logits, const Tensor& targets) {
  const char* op = "soft_target_cross_entropy";
  check_dim(op, "logits", logits, 2);
  CXR_CHECK(targets.defined(), "{}: targets are undefined", op);
  check_same_shape(op, logits, targets);
  check_same_device(op, {&logits, &targets});
  CXR_CHECK(logits.dtype() == targets.dtype(), "{}: logits are {}, targets are {}", op, logits.str(), targets.str());
  CXR_CHECK(!targets.requires_grad(), "{}: targets are constants and must not require grad", op);
  check_contiguous(op, logits);
  check_contiguous(op, targets);
  CXR_CHECK(logits.size(0) >= 1 && logits.size(1) >= 1, "{}: logits {} are empty", op, shape_str(logits.shape()));
  const std::int64_t N = logits.size(0), C = logits.size(1);

  Tensor logp = Tensor::empty_like(logits);
  const double loss = dispatch_float(logits.dtype(), op, [&]<class T>() {
    return kernels_for<T>(logits.device())
        .soft_target_cross_entropy_forward(logp.data<T>(), logits.data<T>(), targets.data<T>(), N, C);
  });
  Tensor out = Tensor::full({}, loss, logits.dtype(), logits.device());
  if (any_requires_grad({&logits})) {
    record(out, op, {logits}, [logp, saved_targets = targets.detach()](const Tensor& dout) {
      Tensor dlogits = Tensor::empty_like(logp);
      dispatch_float(logp.dtype(), "soft_target_cross_entropy backward", [&]<class T>() {
        kernels_for<T>(logp.device())
            .soft_target_cross_entropy_backward(dlogits.data<T>(), logp.data<T>(), saved_targets.data<T>(), dout.item(),
                                                logp.size(0), logp.size(1));
      });
      return std::vector<Tensor>{dlogits};
    });
  }
  return out;
}

}  // namespace cxr
