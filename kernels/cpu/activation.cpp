#include "kernels/cpu/activation.h"

#include "base/parallel.h"

#include <cmath>

namespace cxr::cpu {

namespace {

constexpr std::int64_t kGrain = 1 << 14;  // elements per task; exp and tanh cost more than an add

// exp of a non-positive number only: the branch keeps exp from overflowing.
template <class T>
T stable_sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

}  // namespace

template <class T>
void sigmoid_forward(T* out, const T* x, std::int64_t n) {
  parallel_for(0, n, kGrain, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) out[i] = stable_sigmoid(x[i]);
  });
}

template <class T>
void sigmoid_backward(T* dx, const T* out, const T* dout, std::int64_t n) {
  parallel_for(0, n, kGrain, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) dx[i] = dout[i] * (out[i] * (T(1) - out[i]));
  });
}

template <class T>
void tanh_forward(T* out, const T* x, std::int64_t n) {
  parallel_for(0, n, kGrain, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) out[i] = std::tanh(x[i]);
  });
}

template <class T>
void tanh_backward(T* dx, const T* out, const T* dout, std::int64_t n) {
  parallel_for(0, n, kGrain, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) dx[i] = dout[i] * (T(1) - out[i] * out[i]);
  });
}

template <class T>
void leaky_relu_forward(T* out, const T* x, T slope, std::int64_t n) {
  parallel_for(0, n, kGrain, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) out[i] = x[i] > T(0) ? x[i] : slope * x[i];
  });
}

template <class T>
void leaky_relu_backward(T* dx, const T* x, const T* dout, T slope, std::int64_t n) {
  parallel_for(0, n, kGrain, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i) dx[i] = x[i] > T(0) ? dout[i] : slope * dout[i];
  });
}

#define CXR_INSTANTIATE(T)                                                 \
  template void sigmoid_forward<T>(T*, const T*, std::int64_t);            \
  template void sigmoid_backward<T>(T*, const T*, const T*, std::int64_t); \
  template void tanh_forward<T>(T*, const T*, std::int64_t);               \
  template void tanh_backward<T>(T*, const T*, const T*, std::int64_t);    \
  template void leaky_relu_forward<T>(T*, const T*, T, std::int64_t);      \
  template void leaky_relu_backward<T>(T*, const T*, const T*, T, std::int64_t);
CXR_INSTANTIATE(float)
CXR_INSTANTIATE(double)
#undef CXR_INSTANTIATE

}  // namespace cxr::cpu
