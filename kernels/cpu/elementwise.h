// Elementwise CPU kernels over flat arrays of n elements.
// Convention (as in llm.c): outputs first, then inputs; d-prefixed names are gradients.
#pragma once

#include <cstdint>

namespace cxr::cpu {

template <class T>
void fill(T* dst, T value, std::int64_t n);  // serial: a plain store loop
template <class T>
void add_forward(T* out, const T* a, const T* b, std::int64_t n);
template <class T>
void add_inplace(T* a, const T* b, std::int64_t n);  // a += b
template <class T>
void scale_forward(T* out, const T* x, T s, std::int64_t n);
template <class T>
void scale_inplace(T* a, T s, std::int64_t n);

// out = max(x, 0); dx = dout where out > 0 (the subgradient at 0 is 0, as torch).
template <class T>
void relu_forward(T* out, const T* x, std::int64_t n);
template <class T>
void relu_backward(T* dx, const T* out, const T* dout, std::int64_t n);

// Inverted dropout with keep-scale 1/(1-p): element i is kept when
// uniform_at(key, i) >= p. dx uses the same rule, so no mask is stored.
template <class T>
void dropout_forward(T* out, const T* x, double p, std::uint64_t key, std::int64_t n);
template <class T>
void dropout_backward(T* dx, const T* dout, double p, std::uint64_t key, std::int64_t n);

// Sum of all elements, accumulated in double in a fixed order (deterministic).
template <class T>
double sum_forward(const T* x, std::int64_t n);

}  // namespace cxr::cpu
