// Folding an evaluation-mode batch norm into the convolution before it.
//
// With frozen statistics, BN is a per-channel affine map, so
//   BN(conv(x, w) + b) = conv(x, w') + b'  with  s = gamma / sqrt(running_var + eps),
//   w'[co] = w[co] * s[co],  b'[co] = beta[co] + (b[co] - running_mean[co]) * s[co].
// Inference then makes one pass over each activation instead of two (and with
// conv2d_relu, the ReLU rides along too).
#pragma once

#include "engine/nn/layers.h"

namespace cxr {

struct FoldedConv2d {
  Tensor weight, bias;
  Conv2dOptions options;
};

// Computed in double from the current parameters; no autograd history.
FoldedConv2d fold_batch_norm(const Conv2d& conv, const BatchNorm2d& bn);

}  // namespace cxr
