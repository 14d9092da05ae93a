// Softmax, log-softmax, cross-entropy and label-set cross-entropy over the rows of
// [N, C] logits on the GPU: the CUDA side of kernels/cpu/softmax.h, same names,
// arguments and meaning; every pointer (labels, masks and weights included) is a
// device pointer.
//
// Shape legend: N rows (samples), C classes; labels [N] in 0..C-1; masks [N] (bit c
// set when class c is admissible, C <= 32); weights [C] or null.
#pragma once

#include <cstdint>

namespace cxr::cuda {

template <class T>
void softmax_forward(T* out, const T* x, std::int64_t N, std::int64_t C);
template <class T>
void softmax_backward(T* dx, const T* out, const T* dout, std::int64_t N, std::int64_t C);

template <class T>
void log_softmax_forward(T* out, const T* x, std::int64_t N, std::int64_t C);
template <class T>
void log_softmax_backward(T* dx, const T* out, const T* dout, std::int64_t N, std::int64_t C);

// Writes log_softmax(logits) into logp and returns the weighted mean NLL (waits for
// the stream). Labels must be in range (the caller checks them on the host).
template <class T>
double cross_entropy_forward(T* logp, const T* logits, const int* labels, const T* weights, std::int64_t N,
                             std::int64_t C);
template <class T>
void cross_entropy_backward(T* dlogits, const T* logp, const int* labels, const T* weights, double dloss,
                            std::int64_t N, std::int64_t C);

// As cross_entropy_forward/backward with a set of admissible classes per sample. Masks
// must be non-empty with bits < C (the caller checks them on the host).
template <class T>
double label_set_cross_entropy_forward(T* logp, const T* logits, const std::uint32_t* masks, const T* weights,
                                       std::int64_t N, std::int64_t C);
template <class T>
void label_set_cross_entropy_backward(T* dlogits, const T* logp, const std::uint32_t* masks, const T* weights,
                                      double dloss, std::int64_t N, std::int64_t C);

}  // namespace cxr::cuda
