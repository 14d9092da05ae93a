// Sigmoid, tanh and leaky ReLU on flat device arrays: the GPU side of
// kernels/cpu/activation.h, same names, arguments and meaning.
#pragma once

#include <cstdint>

namespace cxr::cuda {

template <class T>
void sigmoid_forward(T* out, const T* x, std::int64_t n);
template <class T>
void sigmoid_backward(T* dx, const T* out, const T* dout, std::int64_t n);
template <class T>
void tanh_forward(T* out, const T* x, std::int64_t n);
template <class T>
void tanh_backward(T* dx, const T* out, const T* dout, std::int64_t n);
template <class T>
void leaky_relu_forward(T* out, const T* x, T slope, std::int64_t n);
template <class T>
void leaky_relu_backward(T* dx, const T* x, const T* dout, T slope, std::int64_t n);

}  // namespace cxr::cuda
