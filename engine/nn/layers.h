// The layers of a depthwise-separable CNN, as modules over the ops API.
#pragma once

#include "engine/nn/module.h"
#include "engine/ops.h"

namespace cxr {

// conv2d with weight [out, in/groups, k, k] and an optional bias [out].
class Conv2d : public Module {
 public:
  Conv2d(int in_channels, int out_channels, int kernel, int stride = 1, int padding = 0, int groups = 1,
         bool bias = false);
  Tensor forward(const Tensor& x) const;

  Tensor weight, bias;
  Conv2dOptions options;
};

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int channels, double momentum = 0.1, double eps = 1e-5);
  Tensor forward(const Tensor& x);
  Tensor forward_relu(const Tensor& x);  // relu(forward(x)), fused

  Tensor weight, bias;               // gamma, beta (torch names)
  Tensor running_mean, running_var;  // buffers
  double momentum, eps;
};

class Linear : public Module {
 public:
  Linear(int in_features, int out_features, bool bias = true);
  Tensor forward(const Tensor& x) const;

  Tensor weight, bias;
};

}  // namespace cxr
