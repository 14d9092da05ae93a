// Fully connected layer on the GEMM:
//
//   y [N, out] = x [N, in] W^T + b       (W [out, in], b [out])
//   dx = dy W,   dW = dy^T x,   db = sum over rows of dy
//
// Shape legend: N batch rows, in / out features. Every product goes through
// gemm_parallel (bit-identical for any thread count); db sums rows in order.
#pragma once

#include <cstdint>

namespace cxr::cpu {

// bias may be null.
template <class T>
void linear_forward(T* y, const T* x, const T* weight, const T* bias, std::int64_t N, std::int64_t in,
                    std::int64_t out);

// Overwrites dx, dweight, dbias; a null output is skipped.
template <class T>
void linear_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight, std::int64_t N,
                     std::int64_t in, std::int64_t out);

}  // namespace cxr::cpu
