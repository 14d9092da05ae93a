#include "engine/relu_backward.h"

#include "engine/backend.h"

namespace cxr {

namespace {
thread_local ReluBackward t_rule = ReluBackward::exact;
}

ReluBackward relu_backward_rule() {
  return t_rule;
}

GuidedReluScope::GuidedReluScope() : previous_(t_rule) {
  t_rule = ReluBackward::guided;
}
GuidedReluScope::~GuidedReluScope() {
  t_rule = previous_;
}

Tensor relu_incoming_gradient(const Tensor& dout, ReluBackward rule) {
  const Tensor g = dout.contiguous();
  if (rule == ReluBackward::exact) return g;
  Tensor positive = Tensor::empty_like(g);
  dispatch_float(g.dtype(), "guided relu backward", [&]<class T>() {
    kernels_for<T>(g.device()).relu_forward(positive.data<T>(), g.data<T>(), g.numel());
  });
  return positive;
}

}  // namespace cxr
