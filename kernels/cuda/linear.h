// Fully connected layer on the GPU, the CUDA counterpart of kernels/cpu/linear.h:
//
//   y [N, out] = x [N, in] W^T + b       (W [out, in], b [out])
//   dx = dy W,   dW = dy^T x,   db = sum over rows of dy
//
// Shape legend: N batch rows, in / out features; device pointers. The products
// run on cuda::gemm (fp32 arithmetic, split-K when the output is small and the
// sum long, as for dW of a classifier head); the bias is broadcast into y first
// and accumulated with beta = 1, as on the CPU. db: one thread per output
// feature sums its column over the rows in order, in double (coalesced across
// threads). Results are bit-identical run to run.
#pragma once

#include <cstdint>

namespace cxr::cuda {

// bias may be null.
template <class T>
void linear_forward(T* y, const T* x, const T* weight, const T* bias, std::int64_t N, std::int64_t in,
                    std::int64_t out);

// Overwrites dx, dweight, dbias; a null output is skipped.
template <class T>
void linear_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight, std::int64_t N,
                     std::int64_t in, std::int64_t out);

}  // namespace cxr::cuda
