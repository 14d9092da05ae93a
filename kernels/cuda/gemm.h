// General matrix multiply on the GPU, row-major, the CUDA counterpart of kernels/cpu/gemm.h:
//   C[M x N] = alpha * op(A)[M x K] * op(B)[K x N] + beta * C, then the epilogue
// op(X) is X or its transpose (trans_*), lda/ldb/ldc are row strides in elements, all
// pointers are device pointers. beta == 0 overwrites C without reading it.
// The epilogue (row bias, ReLU) is GemmEpilogue (kernels/common/shapes.h), applied in registers.
//
// GemmMath picks the arithmetic, explicitly: Fp32 (IEEE fp32 or fp64 FMAs, the
// default and the only choice for double) or Tf32 (float only: inputs rounded to
// TF32, 10-bit mantissa, multiplied on the tensor cores with fp32 accumulation;
// about 8x the fp32 throughput on an H100, with a relative error of ~2^-10 per
// product). Nothing switches to TF32 behind the caller's back.
// Kernel design and decomposition: kernels/cuda/gemm_tile.cuh. Results are
// bit-identical run to run (no atomics; split-K partials are added in order).
#pragma once

#include "kernels/common/shapes.h"

#include <cstdint>

namespace cxr::cuda {

enum class GemmMath { Fp32, Tf32 };

template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, T alpha, const T* A,
          std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C, std::int64_t ldc,
          const GemmEpilogue<T>& epilogue = {}, GemmMath math = GemmMath::Fp32);

}  // namespace cxr::cuda
