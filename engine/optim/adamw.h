// AdamW (Loshchilov & Hutter 2019) over a model's flat parameter buffer, with
// torch.optim.AdamW's update order so that one step matches PyTorch:
//   p -= lr * wd * p                       (decoupled weight decay)
//   m  = b1 m + (1 - b1) g,   v = b2 v + (1 - b2) g^2
//   p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
#pragma once

#include "engine/nn/module.h"

namespace cxr {

struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
};

class AdamW {
 public:
  // Updates the flat parameters from offset `first` on; those before it stay as they
  // are, weight decay included (frozen layers of a fine-tune).
  AdamW(ParameterSet& params, AdamWOptions options, std::int64_t first = 0);

  void step();  // one update from the current gradients
  void set_lr(double lr) { options_.lr = lr; }
  double lr() const { return options_.lr; }
  std::int64_t steps() const { return step_; }

  // State for checkpoints: first and second moments (flat, like the parameters).
  Tensor& exp_avg() { return m_; }
  Tensor& exp_avg_sq() { return v_; }
  void set_steps(std::int64_t steps) { step_ = steps; }

 private:
  ParameterSet& params_;
  AdamWOptions options_;
  Tensor m_, v_;
  std::int64_t first_ = 0;
  std::int64_t step_ = 0;
};

}  // namespace cxr
