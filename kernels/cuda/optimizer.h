// Optimizer updates over flat device arrays of n elements: the CUDA side of
// kernels/cpu/optimizer.h, same names, arguments and meaning (AdamWStep and SGDStep
// from kernels/common/shapes.h). Each update is one fused elementwise kernel.
#pragma once

#include "kernels/common/shapes.h"

#include <cstdint>

namespace cxr::cuda {

template <class T>
void adamw_update(T* param, T* m, T* v, const T* grad, const AdamWStep& s, std::int64_t n);

template <class T>
void sgd_update(T* param, T* momentum_buffer, const T* grad, const SGDStep& s, std::int64_t n);

// sum_i x_i^2 in double, in a fixed order (kernels/cuda/reduce.cuh); waits for the stream.
template <class T>
double sum_of_squares(const T* x, std::int64_t n);

}  // namespace cxr::cuda
