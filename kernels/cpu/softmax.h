// Softmax, log-softmax and cross-entropy over the rows of [N, C] logits.
//
// Shape legend: N rows (samples), C classes; labels [N] in 0..C-1; weights [C].
// Every row subtracts its maximum before exponentiating, so no exp overflows:
//   softmax(x)_j     = exp(x_j - max) / sum_k exp(x_k - max)
//   log_softmax(x)_j = x_j - max - log(sum_k exp(x_k - max))
// Cross-entropy is the weighted mean of the negative log-likelihoods, as PyTorch:
//   loss = sum_i w[y_i] * -log_softmax(x_i)[y_i] / sum_i w[y_i]   (w = 1 without weights)
// Rows are independent and split over threads; the loss is summed in double in row order.
// Convention (as in llm.c): outputs first, then inputs; d-prefixed names are gradients.
#pragma once

#include <cstdint>

namespace cxr::cpu {

template <class T> void softmax_forward(T* out, const T* x, std::int64_t N, std::int64_t C);
// dx = y * (dy - sum(dy * y)), y = softmax(x)
template <class T>
void softmax_backward(T* dx, const T* out, const T* dout, std::int64_t N, std::int64_t C);

template <class T> void log_softmax_forward(T* out, const T* x, std::int64_t N, std::int64_t C);
// dx = dy - exp(y) * sum(dy), y = log_softmax(x)
template <class T>
void log_softmax_backward(T* dx, const T* out, const T* dout, std::int64_t N, std::int64_t C);

// Writes log_softmax(logits) into logp [N, C] (kept for the backward) and returns the
// loss. weights may be null (all ones); labels must be in range (the caller checks).
template <class T>
double cross_entropy_forward(T* logp, const T* logits, const int* labels, const T* weights,
                             std::int64_t N, std::int64_t C);
// dlogits_ij = dloss * w[y_i] / sum_k w[y_k] * (softmax_ij - [j == y_i])
template <class T>
void cross_entropy_backward(T* dlogits, const T* logp, const int* labels, const T* weights,
                            double dloss, std::int64_t N, std::int64_t C);

}  // namespace cxr::cpu
