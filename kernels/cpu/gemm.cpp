// PLACEHOLDER until the blocked AVX2 GEMM lands: everything calls the reference.
#include "kernels/cpu/gemm.h"

#include "engine/parallel.h"

namespace cxr::cpu {

template <class T>
void gemm_reference(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K,
                    T alpha, const T* A, std::int64_t lda, const T* B, std::int64_t ldb, T beta,
                    T* C, std::int64_t ldc) {
  for (std::int64_t i = 0; i < M; ++i) {
    for (std::int64_t j = 0; j < N; ++j) {
      double acc = 0;
      for (std::int64_t k = 0; k < K; ++k) {
        const double a = trans_a ? A[k * lda + i] : A[i * lda + k];
        const double b = trans_b ? B[j * ldb + k] : B[k * ldb + j];
        acc += a * b;
      }
      T& c = C[i * ldc + j];
      c = beta == T(0) ? static_cast<T>(alpha * acc) : static_cast<T>(alpha * acc + beta * c);
    }
  }
}

template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, T alpha,
          const T* A, std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C, std::int64_t ldc) {
  gemm_reference(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

template <class T>
void gemm_parallel(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K,
                   T alpha, const T* A, std::int64_t lda, const T* B, std::int64_t ldb, T beta,
                   T* C, std::int64_t ldc) {
  parallel_for(0, N, 64, [&](std::int64_t j0, std::int64_t j1) {
    const T* Bj = trans_b ? B + j0 * ldb : B + j0;
    gemm(trans_a, trans_b, M, j1 - j0, K, alpha, A, lda, Bj, ldb, beta, C + j0, ldc);
  });
}

#define CXR_INSTANTIATE(T)                                                                      \
  template void gemm<T>(bool, bool, std::int64_t, std::int64_t, std::int64_t, T, const T*,      \
                        std::int64_t, const T*, std::int64_t, T, T*, std::int64_t);             \
  template void gemm_parallel<T>(bool, bool, std::int64_t, std::int64_t, std::int64_t, T,       \
                                 const T*, std::int64_t, const T*, std::int64_t, T, T*,         \
                                 std::int64_t);                                                 \
  template void gemm_reference<T>(bool, bool, std::int64_t, std::int64_t, std::int64_t, T,      \
                                  const T*, std::int64_t, const T*, std::int64_t, T, T*,        \
                                  std::int64_t);
CXR_INSTANTIATE(float)
CXR_INSTANTIATE(double)
#undef CXR_INSTANTIATE

}  // namespace cxr::cpu
