// binary_cross_entropy_with_logits and soft_dice_loss over whole tensors, on the CPU
// or the GPU (the kernels of the input's device). The loss value comes back to the
// host (one wait on the GPU) and becomes a 0-d tensor on the input's device. Targets
// are constants: they never receive a gradient.
#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/device_buffer.h"
#include "engine/ops.h"

#include <cmath>
#include <memory>

namespace cxr {

namespace {

void check_prediction_and_targets(const char* op, const Tensor& prediction, const Tensor& targets) {
  CXR_CHECK(targets.defined(), "{}: targets are undefined", op);
  check_same_shape(op, prediction, targets);
  check_same_device(op, {&prediction, &targets});
  CXR_CHECK(prediction.dtype() == targets.dtype(), "{}: input is {}, targets are {}", op, prediction.str(),
            targets.str());
  CXR_CHECK(!targets.requires_grad(), "{}: targets are constants and must not require grad", op);
  check_contiguous(op, prediction);
  check_contiguous(op, targets);
  CXR_CHECK(prediction.numel() >= 1, "{}: input {} is empty", op, shape_str(prediction.shape()));
}

}  // namespace

Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& targets) {
  check_prediction_and_targets("binary_cross_entropy_with_logits", logits, targets);
  const double loss = dispatch_float(logits.dtype(), "binary_cross_entropy_with_logits", [&]<class T>() {
    return kernels_for<T>(logits.device()).bce_with_logits_forward(logits.data<T>(), targets.data<T>(), logits.numel());
  });
  Tensor out = Tensor::full({}, loss, logits.dtype(), logits.device());
  if (any_requires_grad({&logits})) {
    record(out, "binary_cross_entropy_with_logits", {logits},
           [saved_logits = logits.detach(), saved_targets = targets.detach()](const Tensor& dout) {
             Tensor dlogits = Tensor::empty_like(saved_logits);
             dispatch_float(saved_logits.dtype(), "binary_cross_entropy_with_logits backward", [&]<class T>() {
               kernels_for<T>(saved_logits.device())
                   .bce_with_logits_backward(dlogits.data<T>(), saved_logits.data<T>(), saved_targets.data<T>(),
                                             dout.item(), saved_logits.numel());
             });
             return std::vector<Tensor>{dlogits};
           });
  }
  return out;
}

Tensor soft_dice_loss(const Tensor& probabilities, const Tensor& targets, double smooth) {
  check_prediction_and_targets("soft_dice_loss", probabilities, targets);
  check_dim("soft_dice_loss", "probabilities", probabilities, 4);
  CXR_CHECK(std::isfinite(smooth) && smooth > 0, "soft_dice_loss: smooth must be finite and > 0, got {}", smooth);
  const std::int64_t maps = probabilities.size(0) * probabilities.size(1);
  const std::int64_t HW = probabilities.size(2) * probabilities.size(3);
  // Per map: sum p*t, sum p, sum t, in double on the input's device, kept for the backward.
  const auto stats = std::make_shared<const DeviceBuffer<double>>(3 * maps, probabilities.device());
  const double loss = dispatch_float(probabilities.dtype(), "soft_dice_loss", [&]<class T>() {
    return kernels_for<T>(probabilities.device())
        .soft_dice_forward(stats->get(), probabilities.data<T>(), targets.data<T>(), maps, HW, smooth);
  });
  Tensor out = Tensor::full({}, loss, probabilities.dtype(), probabilities.device());
  if (any_requires_grad({&probabilities})) {
    record(out, "soft_dice_loss", {probabilities},
           [stats, saved_targets = targets.detach(), maps, HW, smooth](const Tensor& dout) {
             Tensor dprobs = Tensor::empty_like(saved_targets);
             dispatch_float(saved_targets.dtype(), "soft_dice_loss backward", [&]<class T>() {
               kernels_for<T>(saved_targets.device())
                   .soft_dice_backward(dprobs.data<T>(), stats->get(), saved_targets.data<T>(), dout.item(), maps, HW,
                                       smooth);
             });
             return std::vector<Tensor>{dprobs};
           });
  }
  return out;
}

}  // namespace cxr
