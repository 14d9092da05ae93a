#include "engine/nn/fold_batch_norm.h"

#include <cmath>

namespace cxr {

FoldedConv2d fold_batch_norm(const Conv2d& conv, const BatchNorm2d& bn) {
  const std::int64_t C_out = conv.weight.size(0);
  CXR_CHECK(bn.weight.size(0) == C_out, "fold_batch_norm: conv has {} outputs, batch norm {} channels", C_out,
            bn.weight.size(0));
  FoldedConv2d folded{Tensor::empty_like(conv.weight), Tensor::empty({C_out}, conv.weight.dtype()), conv.options};
  const std::int64_t per_channel = conv.weight.numel() / C_out;
  dispatch_float(conv.weight.dtype(), "fold_batch_norm", [&]<class T>() {
    const T* w = conv.weight.data<T>();
    const T* gamma = bn.weight.data<T>();
    const T* beta = bn.bias.data<T>();
    const T* mean = bn.running_mean.data<T>();
    const T* var = bn.running_var.data<T>();
    T* fw = folded.weight.data<T>();
    T* fb = folded.bias.data<T>();
    for (std::int64_t co = 0; co < C_out; ++co) {
      const double s = static_cast<double>(gamma[co]) / std::sqrt(static_cast<double>(var[co]) + bn.eps);
      for (std::int64_t i = 0; i < per_channel; ++i)
        fw[co * per_channel + i] = static_cast<T>(static_cast<double>(w[co * per_channel + i]) * s);
      const double b = conv.bias.defined() ? static_cast<double>(conv.bias.data<T>()[co]) : 0.0;
      fb[co] = static_cast<T>(static_cast<double>(beta[co]) + (b - static_cast<double>(mean[co])) * s);
    }
  });
  return folded;
}

}  // namespace cxr
