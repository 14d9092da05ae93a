// Softmax, log-softmax, cross-entropy and label-set cross-entropy over the rows of
// [N, C] logits.
//
// Shape legend: N rows (samples), C classes; labels [N] in 0..C-1; masks [N] (bit c of
// masks[i] set when class c is admissible for sample i, C <= 32); weights [C].
// Every row subtracts its maximum before exponentiating, so no exp overflows:
//   softmax(x)_j     = exp(x_j - max) / sum_k exp(x_k - max)
//   log_softmax(x)_j = x_j - max - log(sum_k exp(x_k - max))
// Cross-entropy is the weighted mean of the negative log-likelihoods, as PyTorch:
//   loss = sum_i w[y_i] * -log_softmax(x_i)[y_i] / sum_i w[y_i]   (w = 1 without weights)
// Label-set cross-entropy puts the probability of a set S_i in place of one class's,
// log P_i = log sum_{c in S_i} softmax(x_i)_c, a logsumexp of log_softmax over S_i
// (stable: its largest term is subtracted first), and weighs sample i by the mean
// weight of its set, w_i = sum_{c in S_i} w[c] / |S_i|:
//   loss = sum_i w_i * -log P_i / sum_i w_i
// A set of one class gives cross-entropy's terms exactly (log P_i = logp[i, y_i]).
// Rows are independent and split over threads; the loss is summed in double in row order.
// Convention (as in llm.c): outputs first, then inputs; d-prefixed names are gradients.
#pragma once

#include <cstdint>

namespace cxr::cpu {

template <class T>
void softmax_forward(T* out, const T* x, std::int64_t N, std::int64_t C);
// dx = y * (dy - sum(dy * y)), y = softmax(x)
template <class T>
void softmax_backward(T* dx, const T* out, const T* dout, std::int64_t N, std::int64_t C);

template <class T>
void log_softmax_forward(T* out, const T* x, std::int64_t N, std::int64_t C);
// dx = dy - exp(y) * sum(dy), y = log_softmax(x)
template <class T>
void log_softmax_backward(T* dx, const T* out, const T* dout, std::int64_t N, std::int64_t C);

// Writes log_softmax(logits) into logp [N, C] (kept for the backward) and returns the
// loss. weights may be null (all ones); labels must be in range (the caller checks).
template <class T>
double cross_entropy_forward(T* logp, const T* logits, const int* labels, const T* weights, std::int64_t N,
                             std::int64_t C);
// dlogits_ij = dloss * w[y_i] / sum_k w[y_k] * (softmax_ij - [j == y_i])
template <class T>
void cross_entropy_backward(T* dlogits, const T* logp, const int* labels, const T* weights, double dloss,
                            std::int64_t N, std::int64_t C);

// Writes log_softmax(logits) into logp [N, C] (kept for the backward) and returns the
// loss. weights may be null (all ones); every mask must be non-empty with bits < C
// (the caller checks).
template <class T>
double label_set_cross_entropy_forward(T* logp, const T* logits, const std::uint32_t* masks, const T* weights,
                                       std::int64_t N, std::int64_t C);
// dlogits_ij = dloss * w_i / sum_k w_k * (softmax_ij - [j in S_i] * exp(logp_ij - log P_i)):
// the softmax minus the softmax restricted to S_i, which never divides by a small P_i.
template <class T>
void label_set_cross_entropy_backward(T* dlogits, const T* logp, const std::uint32_t* masks, const T* weights,
                                      double dloss, std::int64_t N, std::int64_t C);

}  // namespace cxr::cpu
