#include "engine/optim/adamw.h"

#include "engine/backend.h"

#include <cmath>

namespace cxr {

AdamW::AdamW(ParameterSet& params, AdamWOptions options, std::int64_t first)
    : params_(params),
      options_(options),
      m_(Tensor::zeros_like(params.values())),
      v_(Tensor::zeros_like(params.values())),
      first_(first) {
  CXR_CHECK(first >= 0 && first <= params.values().numel(), "AdamW: first trainable offset {} outside [0, {}]", first,
            params.values().numel());
  CXR_CHECK(options.lr >= 0 && options.eps > 0 && options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 &&
                options.beta2 < 1 && options.weight_decay >= 0,
            "AdamW: invalid options lr={} betas=({}, {}) eps={} weight_decay={}", options.lr, options.beta1,
            options.beta2, options.eps, options.weight_decay);
}

void AdamW::step() {
  ++step_;
  AdamWStep s;
  s.lr = options_.lr;
  s.beta1 = options_.beta1;
  s.beta2 = options_.beta2;
  s.eps = options_.eps;
  s.weight_decay = options_.weight_decay;
  s.bias_correction1 = 1.0 - std::pow(options_.beta1, static_cast<double>(step_));
  s.bias_correction2 = 1.0 - std::pow(options_.beta2, static_cast<double>(step_));
  Tensor& p = params_.values();
  check_same_device("AdamW (parameters, gradients, moments)", {&p, &params_.grads(), &m_, &v_});
  dispatch_float(p.dtype(), "AdamW", [&]<class T>() {
    kernels_for<T>(p.device())
        .adamw_update(p.data<T>() + first_, m_.data<T>() + first_, v_.data<T>() + first_,
                      params_.grads().data<T>() + first_, s, p.numel() - first_);
  });
}

}  // namespace cxr
