// SGD with momentum, Nesterov momentum and L2 weight decay, as torch.optim.SGD:
//   g += wd * p;  buf = momentum * buf + (1 - dampening) * g  (buf = g on the first step)
//   g  = nesterov ? g + momentum * buf : buf;   p -= lr * g
#pragma once

#include "engine/nn/module.h"

namespace cxr {

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

class SGD {
 public:
  // Updates the flat parameters from offset `first` on; those before it stay as they
  // are, weight decay included (frozen layers of a fine-tune).
  SGD(ParameterSet& params, SGDOptions options, std::int64_t first = 0);

  void step();
  void set_lr(double lr) { options_.lr = lr; }
  double lr() const { return options_.lr; }
  Tensor& momentum_buffer() { return buf_; }
  // Steps taken (the first one initialises the momentum buffer); for checkpoints.
  std::int64_t steps() const { return step_; }
  void set_steps(std::int64_t steps) { step_ = steps; }

 private:
  ParameterSet& params_;
  SGDOptions options_;
  Tensor buf_;
  std::int64_t first_ = 0;
  std::int64_t step_ = 0;
};

}  // namespace cxr
