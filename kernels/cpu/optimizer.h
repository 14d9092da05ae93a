// Optimizer updates over flat parameter / gradient / state arrays of n elements.
// One pass, elementwise, so the result does not depend on the thread split.
#pragma once

#include "kernels/common/shapes.h"  // AdamWStep, SGDStep

#include <cstdint>

namespace cxr::cpu {

// param -= lr*wd*param; m, v moment updates; param -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps)
template <class T>
void adamw_update(T* param, T* m, T* v, const T* grad, const AdamWStep& s, std::int64_t n);

template <class T>
void sgd_update(T* param, T* momentum_buffer, const T* grad, const SGDStep& s, std::int64_t n);

// sum_i x_i^2 in double, in a fixed order.
template <class T>
double sum_of_squares(const T* x, std::int64_t n);

}  // namespace cxr::cpu
