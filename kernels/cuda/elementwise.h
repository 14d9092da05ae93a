// Elementwise CUDA kernels over flat device arrays of n elements: the GPU side of
// kernels/cpu/elementwise.h, same names, arguments and meaning (pointers are device
// pointers). The dropout mask is the CPU's, bit for bit (kernels/common/counter_random.h).
#pragma once

#include <cstdint>

namespace cxr::cuda {

template <class T>
void add_forward(T* out, const T* a, const T* b, std::int64_t n);
template <class T>
void add_inplace(T* a, const T* b, std::int64_t n);  // a += b
template <class T>
void scale_forward(T* out, const T* x, T s, std::int64_t n);
template <class T>
void scale_inplace(T* a, T s, std::int64_t n);

// out = max(x, 0); dx = dout where out > 0.
template <class T>
void relu_forward(T* out, const T* x, std::int64_t n);
template <class T>
void relu_backward(T* dx, const T* out, const T* dout, std::int64_t n);

// Inverted dropout: element i kept when uniform_at(key, i) >= p, scaled by 1/(1-p).
template <class T>
void dropout_forward(T* out, const T* x, double p, std::uint64_t key, std::int64_t n);
template <class T>
void dropout_backward(T* dx, const T* dout, double p, std::uint64_t key, std::int64_t n);

// Sum of all elements in double, in a fixed order (kernels/cuda/reduce.cuh); waits
// for the stream to hand the value to the host.
template <class T>
double sum_forward(const T* x, std::int64_t n);

}  // namespace cxr::cuda
