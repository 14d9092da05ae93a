// General matrix multiply, row-major:
//   C[M x N] = alpha * op(A)[M x K] * op(B)[K x N] + beta * C
// op(X) is X or its transpose (trans_*), lda/ldb/ldc are row strides in elements.
// beta == 0 overwrites C without reading it (C may hold garbage, even NaN).
//
// gemm() runs on the calling thread, so ops can call it inside their own
// parallel_for (e.g. one image per task); gemm_parallel() splits C into blocks of
// whole register tiles across the thread pool, for single large products. Both give
// the same bits for any split and thread count (each element's sum has one order).
// float: packed AVX2/FMA 6x16 micro-kernel; double: the same blocking, plain C++.
#pragma once

#include "kernels/common/shapes.h"  // GemmEpilogue

#include <cstdint>

namespace cxr::cpu {

// Which float micro-kernel gemm() uses: AVX-512 where the CPU has it, else AVX2
// (x86 builds); both give bit-identical results. set_gemm_isa() is for tests and
// benchmarks (CXR_GEMM_ISA=avx2 in the environment does the same).
enum class GemmIsa { Auto, Portable, Avx2, Avx512 };
GemmIsa gemm_isa();
void set_gemm_isa(GemmIsa isa);

template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, T alpha, const T* A,
          std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C, std::int64_t ldc,
          const GemmEpilogue<T>& epilogue = {});

template <class T>
void gemm_parallel(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, T alpha, const T* A,
                   std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C, std::int64_t ldc);

// The textbook triple loop (double accumulation); the reference the fast GEMM is tested against.
template <class T>
void gemm_reference(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, T alpha, const T* A,
                    std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C, std::int64_t ldc);

}  // namespace cxr::cpu
