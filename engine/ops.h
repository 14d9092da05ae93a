// The ops API: every differentiable operation of the engine.
//
// Each op checks its inputs (shape errors name the op and the shapes), allocates
// its output, runs the kernel of the tensor's device through that device's backend
// (kernels_for<T>(device), engine/backend.h) and, when an input requires grad and
// grad mode is on, records a Node whose closure runs the backward kernel the same way.
// Tensors are NCHW, contiguous; all ops accept float32 and float64.
//
// Adding an op touches (docs/architecture.md): kernels/cpu/<family>.{h,cpp} (forward +
// backward kernel), a field in kernels/backend.h's Kernels and its entry in
// kernels/cpu/backend_cpu.cpp (on the GPU: kernels/cuda/<family>.{h,cu} and
// kernels/cuda/backend_cuda.cpp), engine/ops/<family>.cpp (this API), one OpSpec in
// tests/ops/<family>.cpp (finite differences, CUDA against the CPU and the benchmark
// bench/bench_ops run from it), its PyTorch case in tests/reference/ops_reference.py,
// and docs/op-coverage.md (regenerated: `test_ops --coverage-markdown`).
#pragma once

#include "engine/tensor.h"

#include <cstdint>
#include <vector>

namespace cxr {

class Generator;

// ---- elementwise --------------------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b);  // same shapes
Tensor mul_scalar(const Tensor& x, double s);
// Identity in the forward pass; the backward pass multiplies the incoming gradient by
// -lambda (gradient reversal layer, Ganin & Lempitsky 2015). lambda >= 0.
Tensor gradient_reversal(const Tensor& x, double lambda);
Tensor relu(const Tensor& x);
// Inverted dropout: zeroes each element with probability p and scales the rest
// by 1/(1-p) when training; identity otherwise. The mask comes from `gen`.
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen);

// In place, outside autograd (optimizers, gradient accumulation).
void add_(Tensor& a, const Tensor& b);  // a += b
void scale_(Tensor& a, double s);       // a *= s

// ---- shape ----------------------------------------------------------------------
Tensor reshape(const Tensor& x, const Shape& shape);  // one -1 allowed
Tensor flatten(const Tensor& x);                      // [N, ...] -> [N, prod(...)]

// ---- reductions -------------------------------------------------------------------
Tensor sum(const Tensor& x);   // all elements -> 0-d tensor
Tensor mean(const Tensor& x);  // all elements -> 0-d tensor

// ---- convolution and linear ---------------------------------------------------------
struct Conv2dOptions {
  int stride = 1;
  int padding = 0;
  int groups = 1;  // groups == C_in == C_out: depthwise
};
// x [N, C_in, H, W], weight [C_out, C_in/groups, K, K], bias [C_out] or undefined.
// Output [N, C_out, (H + 2p - K)/s + 1, (W + 2p - K)/s + 1].
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& opt);
// relu(conv2d(...)) in one op: the ReLU runs on each output block while it is in cache.
Tensor conv2d_relu(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& opt);
// x [N, in], weight [out, in], bias [out] or undefined -> [N, out].
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);

// ---- normalisation ------------------------------------------------------------------
// x [N, C, H, W]; gamma, beta, running_mean, running_var [C].
// training: normalise with the batch mean and biased variance and update the running
// statistics in place (running = (1-momentum)*running + momentum*batch, with the
// unbiased variance), as PyTorch does. Evaluation: normalise with the running statistics.
Tensor batch_norm2d(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean, Tensor& running_var,
                    bool training, double momentum = 0.1, double eps = 1e-5);

// relu(batch_norm2d(...)) in one op: the ReLU is fused into batch norm's passes.
Tensor batch_norm_relu2d(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                         Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);

// ---- pooling ------------------------------------------------------------------------
Tensor max_pool2d(const Tensor& x, int kernel, int stride, int padding = 0);
// Padding counts as zeros in the average (PyTorch's count_include_pad=True).
Tensor avg_pool2d(const Tensor& x, int kernel, int stride, int padding = 0);
Tensor global_avg_pool2d(const Tensor& x);  // [N, C, H, W] -> [N, C]

// ---- classification -------------------------------------------------------------------
Tensor softmax(const Tensor& x);      // over the last dimension of [N, C]
Tensor log_softmax(const Tensor& x);  // over the last dimension of [N, C]
// Mean negative log-likelihood of log_softmax(logits) [N, C] at labels (0..C-1).
// With class_weights [C]: sum_i w[y_i] * nll_i / sum_i w[y_i], as torch's cross_entropy.
Tensor cross_entropy(const Tensor& logits, const std::vector<int>& labels, const Tensor& class_weights = Tensor());
// Mean negative log of the probability mass softmax(logits) [N, C] puts on each sample's
// admissible classes: masks[i] has bit c set when class c is admissible for sample i
// (at least one bit, only bits < C). A single bit is ordinary cross entropy.
// With class_weights [C]: sample i weighs w_i = mean of w[c] over its set, and the loss
// is sum_i w_i * l_i / sum_i w_i (torch's weighted cross_entropy when every set is one class).
Tensor label_set_cross_entropy(const Tensor& logits, const std::vector<std::uint32_t>& masks,
                               const Tensor& class_weights = Tensor());

// ---- resampling -----------------------------------------------------------------------
// Bilinear resize of [N, C, H, W] to [N, C, out_h, out_w], half-pixel centres
// (torch's interpolate(mode="bilinear", align_corners=False)).
Tensor resize_bilinear(const Tensor& x, int out_h, int out_w);

// ---- activations ------------------------------------------------------------------------
Tensor sigmoid(const Tensor& x);  // 1 / (1 + exp(-x)), without overflow
Tensor tanh(const Tensor& x);
// x for x > 0, negative_slope * x otherwise (torch's leaky_relu; its gradient at 0 is
// negative_slope). negative_slope finite.
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);

// ---- channels ---------------------------------------------------------------------------
// [N, C_i, H, W] tensors of one N, H, W, dtype and device -> [N, sum C_i, H, W], in order
// (torch.cat(dim=1); a U-Net's skip connection).
Tensor concat_channels(const std::vector<Tensor>& xs);
// Channels [begin, begin + count) of [N, C, H, W] -> [N, count, H, W] (a split's part).
Tensor slice_channels(const Tensor& x, std::int64_t begin, std::int64_t count);

// ---- segmentation losses ------------------------------------------------------------------
// Mean over every element of the binary cross-entropy between sigmoid(logits) and
// targets in [0, 1] of the same shape (torch's binary_cross_entropy_with_logits).
// Targets are constants.
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& targets);
// Soft Dice loss of probabilities [N, C, H, W] (in [0, 1]) against targets of the same
// shape: the mean over the N*C maps of 1 - (2 sum(p*t) + smooth) / (sum p + sum t + smooth).
// smooth > 0 keeps an empty map and an empty prediction at loss 0. Targets are constants.
Tensor soft_dice_loss(const Tensor& probabilities, const Tensor& targets, double smooth = 1.0);

// ---- distillation loss --------------------------------------------------------------------
// Mean over the N rows of -sum_c q_ic log softmax(logits_i)_c for logits [N, C] and soft
// targets q [N, C] >= 0 (a teacher's class probabilities; torch's cross_entropy with
// probability targets). Targets are constants.
Tensor soft_target_cross_entropy(const Tensor& logits, const Tensor& targets);

}  // namespace cxr
