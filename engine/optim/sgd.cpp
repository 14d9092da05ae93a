#include "engine/optim/sgd.h"

#include "engine/backend.h"

namespace cxr {

SGD::SGD(ParameterSet& params, SGDOptions options, std::int64_t first)
    : params_(params), options_(options), buf_(Tensor::zeros_like(params.values())), first_(first) {
  CXR_CHECK(first >= 0 && first <= params.values().numel(), "SGD: first trainable offset {} outside [0, {}]", first,
            params.values().numel());
  CXR_CHECK(options.lr >= 0 && options.momentum >= 0 && options.weight_decay >= 0,
            "SGD: invalid options lr={} momentum={} weight_decay={}", options.lr, options.momentum,
            options.weight_decay);
  CXR_CHECK(!options.nesterov || (options.momentum > 0 && options.dampening == 0),
            "SGD: Nesterov momentum needs momentum > 0 and dampening 0");
}

void SGD::step() {
  SGDStep s{options_.lr, options_.momentum, options_.dampening, options_.weight_decay, options_.nesterov, step_ == 0};
  Tensor& p = params_.values();
  check_same_device("SGD (parameters, gradients, momentum)", {&p, &params_.grads(), &buf_});
  dispatch_float(p.dtype(), "SGD", [&]<class T>() {
    kernels_for<T>(p.device())
        .sgd_update(p.data<T>() + first_, buf_.data<T>() + first_, params_.grads().data<T>() + first_, s,
                    p.numel() - first_);
  });
  ++step_;
}

}  // namespace cxr
