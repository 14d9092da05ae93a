// Cross-entropy against soft targets (knowledge distillation: a teacher's class
// probabilities instead of one label). The loss value is accumulated in double and
// reaches the host. Shape legend: N samples (rows), C classes.
#pragma once

#include <cstdint>

namespace cxr::cpu {

// Mean over N rows of -sum_j q_ij log softmax(z_i)_j; logp [N, C] gets log_softmax(z)
// for the backward. Targets q >= 0 (rows that are distributions in distillation; any
// non-negative row is allowed: torch's cross_entropy with probability targets).
template <class T>
double soft_target_cross_entropy_forward(T* logp, const T* logits, const T* targets, std::int64_t N, std::int64_t C);
// dlogits_ij = dloss / N * (exp(logp_ij) * sum_k q_ik - q_ij)  (= p - q for normalised q).
template <class T>
void soft_target_cross_entropy_backward(T* dlogits, const T* logp, const T* targets, double dloss, std::int64_t N,
                                        std::int64_t C);

}  // namespace cxr::cpu
