// Softmax, log-softmax and cross-entropy over the rows of [N, C] logits on the GPU:
// the CUDA side of kernels/cpu/softmax.h, same names, arguments and meaning; every
// pointer (labels and weights included) is a device pointer.
//
// Shape legend: N rows (samples), C classes; labels [N] in 0..C-1; weights [C] or null.
#pragma once

#include <cstdint>

namespace cxr::cuda {

template <class T> void softmax_forward(T* out, const T* x, std::int64_t N, std::int64_t C);
template <class T>
void softmax_backward(T* dx, const T* out, const T* dout, std::int64_t N, std::int64_t C);

template <class T> void log_softmax_forward(T* out, const T* x, std::int64_t N, std::int64_t C);
template <class T>
void log_softmax_backward(T* dx, const T* out, const T* dout, std::int64_t N, std::int64_t C);

// Writes log_softmax(logits) into logp and returns the weighted mean NLL (waits for
// the stream). Labels must be in range (the caller checks them on the host).
template <class T>
double cross_entropy_forward(T* logp, const T* logits, const int* labels, const T* weights,
                             std::int64_t N, std::int64_t C);
template <class T>
void cross_entropy_backward(T* dlogits, const T* logp, const int* labels, const T* weights,
                            double dloss, std::int64_t N, std::int64_t C);

}  // namespace cxr::cuda
