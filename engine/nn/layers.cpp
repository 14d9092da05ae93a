#include "engine/nn/layers.h"

namespace cxr {

Conv2d::Conv2d(int in_channels, int out_channels, int kernel, int stride, int padding, int groups, bool has_bias)
    : options{stride, padding, groups} {
  CXR_CHECK(groups >= 1 && in_channels % groups == 0 && out_channels % groups == 0,
            "Conv2d: {} input and {} output channels are not divisible into {} groups", in_channels, out_channels,
            groups);
  const int fan_in = in_channels / groups * kernel * kernel;
  declare_parameter("weight", &weight, {out_channels, in_channels / groups, kernel, kernel},
                    Init::kaiming_normal(fan_in));
  if (has_bias) declare_parameter("bias", &bias, {out_channels}, Init::constant(0));
}

Tensor Conv2d::forward(const Tensor& x) const {
  return conv2d(x, weight, bias, options);
}

BatchNorm2d::BatchNorm2d(int channels, double momentum_, double eps_) : momentum(momentum_), eps(eps_) {
  declare_parameter("weight", &weight, {channels}, Init::constant(1));
  declare_parameter("bias", &bias, {channels}, Init::constant(0));
  declare_buffer("running_mean", &running_mean, {channels}, 0.0);
  declare_buffer("running_var", &running_var, {channels}, 1.0);
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  return batch_norm2d(x, weight, bias, running_mean, running_var, training(), momentum, eps);
}

Tensor BatchNorm2d::forward_relu(const Tensor& x) {
  return batch_norm_relu2d(x, weight, bias, running_mean, running_var, training(), momentum, eps);
}

Linear::Linear(int in_features, int out_features, bool has_bias) {
  declare_parameter("weight", &weight, {out_features, in_features}, Init::kaiming_normal(in_features));
  if (has_bias) declare_parameter("bias", &bias, {out_features}, Init::constant(0));
}

Tensor Linear::forward(const Tensor& x) const {
  return linear(x, weight, bias);
}

}  // namespace cxr
