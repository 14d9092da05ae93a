// cuda::gemm on the tile engine of gemm_tile.cuh: A and B as plain matrix operands.
// op(B) [K x N] is fetched as N rows of K: element (n, k) of op(B) is B[k*ldb + n]
// (not transposed: a "transposed" operand in gemm_tile's sense) or B[n*ldb + k].
#include "kernels/cuda/gemm.h"

#include "kernels/cuda/gemm_tile.cuh"

namespace cxr::cuda {

template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, T alpha, const T* A,
          std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C, std::int64_t ldc,
          const GemmEpilogue<T>& epilogue, GemmMath math) {
  using namespace gemm_detail;
  CXR_CHECK(M >= 0 && N >= 0 && K >= 0, "gemm: negative size {} x {} x {}", M, N, K);
  const MatrixOperand<T> a{A, lda, 0, M, trans_a};
  const MatrixOperand<T> b{B, ldb, 0, N, !trans_b};
  const MatrixStore<T> c{C, ldc, 0, M, N, alpha, beta, epilogue.row_bias, epilogue.relu};
  if (math == GemmMath::Tf32) {
    if constexpr (sizeof(T) == 4) {
      launch_gemm<T, Math::Tf32>(a, b, c, M, N, K, 1);
      return;
    }
    throw Error("gemm: the TF32 path is for float32 only");
  }
  launch_gemm<T, Math::Simt>(a, b, c, M, N, K, 1);
}

template void gemm<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, float, const float*, std::int64_t,
                          const float*, std::int64_t, float, float*, std::int64_t, const GemmEpilogue<float>&,
                          GemmMath);
template void gemm<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, double, const double*, std::int64_t,
                           const double*, std::int64_t, double, double*, std::int64_t, const GemmEpilogue<double>&,
                           GemmMath);

}  // namespace cxr::cuda
