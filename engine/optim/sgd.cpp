#include "engine/optim/sgd.h"

#include "kernels/cpu/optimizer.h"

namespace cxr {

SGD::SGD(ParameterSet& params, SGDOptions options)
    : params_(params), options_(options), buf_(Tensor::zeros_like(params.values())) {
  CXR_CHECK(options.lr >= 0 && options.momentum >= 0 && options.weight_decay >= 0,
            "SGD: invalid options lr={} momentum={} weight_decay={}", options.lr, options.momentum,
            options.weight_decay);
  CXR_CHECK(!options.nesterov || (options.momentum > 0 && options.dampening == 0),
            "SGD: Nesterov momentum needs momentum > 0 and dampening 0");
}

void SGD::step() {
  cpu::SGDStep s{options_.lr, options_.momentum, options_.dampening, options_.weight_decay,
                 options_.nesterov, step_ == 0};
  Tensor& p = params_.values();
  dispatch_float(p.dtype(), "SGD", [&]<class T>() {
    cpu::sgd_update(p.data<T>(), buf_.data<T>(), params_.grads().data<T>(), s, p.numel());
  });
  ++step_;
}

}  // namespace cxr
