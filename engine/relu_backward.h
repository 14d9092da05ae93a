// How the ReLU-type ops (relu, conv2d_relu, batch_norm_relu2d) send a gradient back
// through their ReLU. Each op reads the rule once, when it records its node, so a
// graph keeps the rule it was recorded under:
//   exact   the derivative: dx = dout where the output is positive, else 0.
//   guided  guided backpropagation (Springenberg et al. 2015, "Striving for
//           simplicity"): dx = dout where the output is positive AND dout is
//           positive, else 0. Not a derivative of anything: for explanations only
//           (models/explain/guided.h), never for training.
// Exact is the default; GuidedReluScope switches this thread to guided for a scope.
// Other activations (leaky_relu, sigmoid, tanh) always use their derivative.
#pragma once

#include "engine/tensor.h"

namespace cxr {

enum class ReluBackward { exact, guided };

// The rule ops recording on this thread use now.
ReluBackward relu_backward_rule();

// RAII scope: ReLU-type ops recorded inside it backpropagate by the guided rule.
class GuidedReluScope {
 public:
  GuidedReluScope();
  ~GuidedReluScope();
  GuidedReluScope(const GuidedReluScope&) = delete;
  GuidedReluScope& operator=(const GuidedReluScope&) = delete;

 private:
  ReluBackward previous_;
};

// The gradient a ReLU-type op masks with its output: dout itself under the exact
// rule, max(dout, 0) under the guided rule (masking max(dout, 0) by output > 0 is
// the guided rule). Contiguous, on dout's device.
Tensor relu_incoming_gradient(const Tensor& dout, ReluBackward rule);

}  // namespace cxr
