// Smooth and leaky activations over flat arrays of n elements: sigmoid, tanh and
// leaky ReLU (the U-Net's output and decoder nonlinearities, a GAN's generator and
// discriminator). Outputs first, then inputs; d-prefixed names are gradients.
#pragma once

#include <cstdint>

namespace cxr::cpu {

// out = 1 / (1 + exp(-x)), evaluated without overflow for large |x|;
// dx = dout * out * (1 - out).
template <class T>
void sigmoid_forward(T* out, const T* x, std::int64_t n);
template <class T>
void sigmoid_backward(T* dx, const T* out, const T* dout, std::int64_t n);

// out = tanh(x); dx = dout * (1 - out^2).
template <class T>
void tanh_forward(T* out, const T* x, std::int64_t n);
template <class T>
void tanh_backward(T* dx, const T* out, const T* dout, std::int64_t n);

// out = x for x > 0, slope * x otherwise; dx = dout or slope * dout by the same test
// on x (the gradient at 0 is slope * dout, as torch's).
template <class T>
void leaky_relu_forward(T* out, const T* x, T slope, std::int64_t n);
template <class T>
void leaky_relu_backward(T* dx, const T* x, const T* dout, T slope, std::int64_t n);

}  // namespace cxr::cpu
