// Blocked, packed GEMM in the GotoBLAS / BLIS style (Goto & van de Geijn 2008;
// Van Zee & van de Geijn 2015).
//
//   C[M x N] = alpha * op(A)[M x K] * op(B)[K x N] + beta * C      (row-major)
//
// Five loops around a register-blocked micro-kernel:
//   jc over N in NC columns   -> op(B)[kc x nc] is packed into NR-column panels (stays in L2/L3)
//   pc over K in KC steps     ->
//   ic over M in MC rows      -> op(A)[mc x kc] is packed into MR-row panels (stays in L2)
//   jr over NR panels of B    -> one B panel (kc x NR) stays in L1 ...
//   ir over MR panels of A    -> ... while the A panels stream past it
// and the micro-kernel keeps an MR x NR tile of C in registers for the whole kc loop
// (float: 6 x 16 = 12 ymm accumulators; per k, 2 loads of B, 6 broadcasts of A, 12 FMAs).
// Packing absorbs the transposes, so one micro-kernel serves all four cases; edge
// panels are zero-padded and edge tiles go through a small buffer.
//
// Every element of C is summed over k in the same order (KC blocks, then k inside
// a block) whatever the tile it falls in, so the result does not depend on how
// gemm_parallel() splits C across threads: bit-identical for any thread count.
#include "kernels/cpu/gemm.h"

#include "base/parallel.h"

#include "base/check.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <vector>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define CXR_GEMM_AVX2 1
#endif

namespace cxr::cpu {

namespace {

using i64 = std::int64_t;

// Register tile (MR x NR) and cache blocks (MC x KC of A in L2, KC x NC of B in
// L2/L3). MC is a multiple of MR, NC of NR.
template <class T>
struct Blocking;
template <>
struct Blocking<float> {
  static constexpr i64 MR = 6, NR = 16, MC = 144, KC = 256, NC = 2048;
};
template <>
struct Blocking<double> {
  static constexpr i64 MR = 6, NR = 8, MC = 96, KC = 256, NC = 1024;
};

// dst[k * ldd + r] = src[r * lds + k] for r < rows, k < kc, and zero for r in
// [rows, width): `rows` source rows, each contiguous in k, become k-major rows of a
// packed panel. The transposing half of packing (A not transposed, B transposed).
template <class T>
void pack_transposed(T* dst, i64 ldd, const T* src, i64 lds, i64 rows, i64 width, i64 kc) {
  for (i64 r = 0; r < rows; ++r)
    for (i64 k = 0; k < kc; ++k) dst[k * ldd + r] = src[r * lds + k];
  for (i64 r = rows; r < width; ++r)
    for (i64 k = 0; k < kc; ++k) dst[k * ldd + r] = T(0);
}

#ifdef CXR_GEMM_AVX2
// r[i][j] <- r[j][i] for an 8 x 8 float block.
inline void transpose8x8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
    r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
  }
}

// Stores lanes 0 .. n-1 of v (n = 8, 6 or 4: the widths packing uses).
inline void store_lanes(float* d, __m256 v, i64 n) {
  if (n == 8) {
    _mm256_storeu_ps(d, v);
    return;
  }
  _mm_storeu_ps(d, _mm256_castps256_ps128(v));
  if (n == 6) _mm_storel_pi(reinterpret_cast<__m64*>(d + 4), _mm256_extractf128_ps(v, 1));
}

// The same copy, 8 x 8 blocks through registers, for the widths packing uses:
// 8 (half a B panel), 6 and 12 (an A panel of the AVX2 and AVX-512 kernels).
template <>
void pack_transposed<float>(float* dst, i64 ldd, const float* src, i64 lds, i64 rows, i64 width, i64 kc) {
  const bool vector_width = width == 8 || width == 6 || width == 12;
  const i64 k8 = vector_width ? kc / 8 * 8 : 0;
  for (i64 g = 0; g < width; g += 8) {  // groups of 8 rows become 8 lanes of dst
    const i64 lanes = std::min<i64>(8, width - g);
    for (i64 k = 0; k < k8; k += 8) {
      __m256 r[8];
      for (i64 i = 0; i < 8; ++i) r[i] = g + i < rows ? _mm256_loadu_ps(src + (g + i) * lds + k) : _mm256_setzero_ps();
      transpose8x8(r);
      for (i64 i = 0; i < 8; ++i) store_lanes(dst + (k + i) * ldd + g, r[i], lanes);
    }
  }
  for (i64 r = 0; r < rows; ++r)
    for (i64 k = k8; k < kc; ++k) dst[k * ldd + r] = src[r * lds + k];
  for (i64 r = rows; r < width; ++r)
    for (i64 k = k8; k < kc; ++k) dst[k * ldd + r] = 0.0f;
}
#endif

// Packs op(A)[i0 : i0+mc, p0 : p0+kc] as ceil(mc/MR) panels, each kc steps of MR
// consecutive rows; rows past mc are zero.
template <class T, i64 MR>
void pack_a(T* dst, bool trans_a, const T* A, i64 lda, i64 i0, i64 mc, i64 p0, i64 kc) {
  for (i64 ir = 0; ir < mc; ir += MR) {
    const i64 m = std::min(MR, mc - ir);
    if (trans_a) {  // op(A)[i][k] = A[k][i]: MR contiguous values per k
      for (i64 k = 0; k < kc; ++k) {
        const T* s = A + (p0 + k) * lda + i0 + ir;
        T* d = dst + k * MR;
        for (i64 r = 0; r < m; ++r) d[r] = s[r];
        for (i64 r = m; r < MR; ++r) d[r] = T(0);
      }
    } else {  // op(A)[i][k] = A[i][k]: MR rows, each contiguous in k
      pack_transposed(dst, MR, A + (i0 + ir) * lda + p0, lda, m, MR, kc);
    }
    dst += kc * MR;
  }
}

// Packs op(B)[p0 : p0+kc, j0 : j0+nc] as ceil(nc/NR) panels, each kc rows of NR
// consecutive columns; columns past nc are zero.
template <class T, i64 NR>
void pack_b(T* dst, bool trans_b, const T* B, i64 ldb, i64 p0, i64 kc, i64 j0, i64 nc) {
  if (!trans_b) {  // op(B)[k][j] = B[k][j]: row k feeds row k of every panel, read once left to right
    for (i64 k = 0; k < kc; ++k) {
      const T* s = B + (p0 + k) * ldb + j0;
      for (i64 jr = 0; jr < nc; jr += NR) {
        const i64 n = std::min(NR, nc - jr);
        T* d = dst + jr * kc + k * NR;
        for (i64 c = 0; c < n; ++c) d[c] = s[jr + c];
        for (i64 c = n; c < NR; ++c) d[c] = T(0);
      }
    }
    return;
  }
  // op(B)[k][j] = B[j][k]: rows j of B become the columns of a panel, 8 at a time.
  for (i64 jr = 0; jr < nc; jr += NR) {
    for (i64 c = 0; c < NR; c += 8) {
      const i64 rows = std::clamp<i64>(nc - jr - c, 0, 8);
      pack_transposed(dst + jr * kc + c, NR, B + (j0 + jr + c) * ldb + p0, ldb, rows, i64{8}, kc);
    }
  }
}

// One element through the epilogue: + bias, then ReLU.
template <class T>
T finish(T v, const T* bias, i64 r, bool relu) {
  if (bias) v += bias[r];
  return relu && !(v > T(0)) ? T(0) : v;
}

// C[MR x NR] = alpha * (sum over k of a[k][r] * b[k][c]) + beta * C, then the
// epilogue (bias: the tile's MR row biases, or null); C is not read when beta == 0.
// a and b are packed panels.
template <class T, i64 MR, i64 NR>
void micro_kernel_generic(i64 kc, const T* a, const T* b, T* C, i64 ldc, T alpha, T beta, const T* bias, bool relu) {
  T acc[MR][NR] = {};
  for (i64 k = 0; k < kc; ++k) {
    for (i64 r = 0; r < MR; ++r) {
#pragma omp simd
      for (i64 c = 0; c < NR; ++c) acc[r][c] += a[k * MR + r] * b[k * NR + c];
    }
  }
  for (i64 r = 0; r < MR; ++r)
    for (i64 c = 0; c < NR; ++c)
      C[r * ldc + c] =
          finish(beta == T(0) ? alpha * acc[r][c] : std::fma(beta, C[r * ldc + c], alpha * acc[r][c]), bias, r, relu);
}

template <class T>
void micro_kernel(i64 kc, const T* a, const T* b, T* C, i64 ldc, T alpha, T beta, const T* bias, bool relu) {
  micro_kernel_generic<T, Blocking<T>::MR, Blocking<T>::NR>(kc, a, b, C, ldc, alpha, beta, bias, relu);
}

#ifdef CXR_GEMM_AVX2
// 6 x 16 float tile: 12 accumulators c[r][h] hold row r, columns 8h .. 8h+7.
// Not inlined: inside the packing loops GCC runs short of ymm registers and folds
// the B loads into the FMAs, 12 loads per k instead of 2.
template <>
[[gnu::noinline]] void micro_kernel<float>(i64 kc, const float* a, const float* b, float* C, i64 ldc, float alpha,
                                           float beta, const float* bias, bool relu) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (i64 k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    __m256 ar;
    ar = _mm256_broadcast_ss(a + 0);
    c00 = _mm256_fmadd_ps(ar, b0, c00);
    c01 = _mm256_fmadd_ps(ar, b1, c01);
    ar = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(ar, b0, c10);
    c11 = _mm256_fmadd_ps(ar, b1, c11);
    ar = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(ar, b0, c20);
    c21 = _mm256_fmadd_ps(ar, b1, c21);
    ar = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(ar, b0, c30);
    c31 = _mm256_fmadd_ps(ar, b1, c31);
    ar = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(ar, b0, c40);
    c41 = _mm256_fmadd_ps(ar, b1, c41);
    ar = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(ar, b0, c50);
    c51 = _mm256_fmadd_ps(ar, b1, c51);
    a += 6;
    b += 16;
  }
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  const bool read_c = beta != 0.0f;
  const __m256 zero = _mm256_setzero_ps();
  auto store = [&](float* c, __m256 acc, int r) {
    __m256 v = _mm256_mul_ps(va, acc);
    if (read_c) v = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c), v);
    if (bias) v = _mm256_add_ps(v, _mm256_set1_ps(bias[r]));
    if (relu) v = _mm256_max_ps(v, zero);  // NaN -> 0, as relu_forward
    _mm256_storeu_ps(c, v);
  };
  store(C + 0 * ldc, c00, 0);
  store(C + 0 * ldc + 8, c01, 0);
  store(C + 1 * ldc, c10, 1);
  store(C + 1 * ldc + 8, c11, 1);
  store(C + 2 * ldc, c20, 2);
  store(C + 2 * ldc + 8, c21, 2);
  store(C + 3 * ldc, c30, 3);
  store(C + 3 * ldc + 8, c31, 3);
  store(C + 4 * ldc, c40, 4);
  store(C + 4 * ldc + 8, c41, 4);
  store(C + 5 * ldc, c50, 5);
  store(C + 5 * ldc + 8, c51, 5);
}

// AVX-512 (chosen at run time where the CPU has it): a 12 x 16 tile, one zmm per row,
// per k 1 load of B, 12 broadcasts of A and 12 FMAs: twice the AVX2 kernel's work
// per instruction. Each C element is the same FMA chain over k in the same order as
// in the AVX2 kernel, so the two give bit-identical results.
struct Avx512Blocking {
  static constexpr i64 MR = 12, NR = 16, MC = 144, KC = 256, NC = 2048;
};

[[gnu::noinline, gnu::target("avx512f")]] void micro_kernel_avx512(i64 kc, const float* a, const float* b, float* C,
                                                                   i64 ldc, float alpha, float beta, const float* bias,
                                                                   bool relu) {
  __m512 c[12];
#pragma GCC unroll 12
  for (int r = 0; r < 12; ++r) c[r] = _mm512_setzero_ps();
  for (i64 k = 0; k < kc; ++k) {
    const __m512 bk = _mm512_loadu_ps(b);
#pragma GCC unroll 12
    for (int r = 0; r < 12; ++r) c[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[r]), bk, c[r]);
    a += 12;
    b += 16;
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta), zero = _mm512_setzero_ps();
#pragma GCC unroll 12
  for (int r = 0; r < 12; ++r) {
    float* row = C + r * ldc;
    __m512 v = _mm512_mul_ps(va, c[r]);
    if (beta != 0.0f) v = _mm512_fmadd_ps(vb, _mm512_loadu_ps(row), v);
    if (bias) v = _mm512_add_ps(v, _mm512_set1_ps(bias[r]));
    if (relu) v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ), zero, v);  // NaN -> 0
    _mm512_storeu_ps(row, v);
  }
}

// Read by every GEMM on every thread, written once by the lazy detection (or a test's
// set_gemm_isa): atomic, so concurrent first calls do not race (ThreadSanitizer found it).
std::atomic<GemmIsa> g_isa{GemmIsa::Auto};

// CXR_GEMM_ISA=avx2 keeps the AVX2 kernel on an AVX-512 machine (for comparisons).
bool env_forces_avx2() {
  const char* env = std::getenv("CXR_GEMM_ISA");
  return env && std::string(env) == "avx2";
}

bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}
#endif

// The packing buffers of this thread, grown once to the block sizes.
template <class T>
struct PackBuffers {
  std::vector<T> a, b;
};
template <class T>
PackBuffers<T>& pack_buffers() {
  thread_local PackBuffers<T> buffers;
  return buffers;
}

// C[mc x nc] (+)= alpha * packed A block * packed B block, tile by tile, then the
// epilogue (bias: the block's mc row biases, or null).
template <class T>
using MicroKernel = void (*)(i64 kc, const T* a, const T* b, T* C, i64 ldc, T alpha, T beta, const T* bias, bool relu);

template <class T, class Bk, MicroKernel<T> kernel>
void macro_kernel(i64 mc, i64 nc, i64 kc, T alpha, const T* pa, const T* pb, T beta, T* C, i64 ldc, const T* bias,
                  bool relu) {
  constexpr i64 MR = Bk::MR, NR = Bk::NR;
  alignas(64) T edge[MR * NR];
  for (i64 jr = 0; jr < nc; jr += NR) {
    const i64 n = std::min(NR, nc - jr);
    for (i64 ir = 0; ir < mc; ir += MR) {
      const i64 m = std::min(MR, mc - ir);
      const T* a = pa + ir * kc;
      const T* b = pb + jr * kc;
      T* c = C + ir * ldc + jr;
      const T* tile_bias = bias ? bias + ir : nullptr;
      if (m == MR && n == NR) {
        kernel(kc, a, b, c, ldc, alpha, beta, tile_bias, relu);
        continue;
      }
      kernel(kc, a, b, edge, NR, alpha, T(0), nullptr, false);
      for (i64 r = 0; r < m; ++r)
        for (i64 j = 0; j < n; ++j)
          c[r * ldc + j] = finish(beta == T(0) ? edge[r * NR + j] : std::fma(beta, c[r * ldc + j], edge[r * NR + j]),
                                  tile_bias, r, relu);
    }
  }
}

// C = beta * C (beta == 0 writes zeros without reading C), then the epilogue.
template <class T>
void scale_c(i64 M, i64 N, T beta, T* C, i64 ldc, const GemmEpilogue<T>& e) {
  for (i64 i = 0; i < M; ++i)
    for (i64 j = 0; j < N; ++j)
      C[i * ldc + j] = finish(beta == T(0) ? T(0) : beta * C[i * ldc + j], e.row_bias, i, e.relu);
}

// The five loops around one micro-kernel and its blocking (see the file comment).
template <class T, class Bk, MicroKernel<T> kernel>
void gemm_blocked(bool trans_a, bool trans_b, i64 M, i64 N, i64 K, T alpha, const T* A, i64 lda, const T* B, i64 ldb,
                  T beta, T* C, i64 ldc, const GemmEpilogue<T>& epilogue) {
  PackBuffers<T>& buf = pack_buffers<T>();
  const i64 kc_max = std::min(K, Bk::KC);
  const i64 mc_max = std::min((M + Bk::MR - 1) / Bk::MR * Bk::MR, Bk::MC);
  const i64 nc_max = std::min((N + Bk::NR - 1) / Bk::NR * Bk::NR, Bk::NC);
  buf.a.resize(std::max(buf.a.size(), static_cast<std::size_t>(mc_max * kc_max)));
  buf.b.resize(std::max(buf.b.size(), static_cast<std::size_t>(kc_max * nc_max)));

  for (i64 jc = 0; jc < N; jc += Bk::NC) {
    const i64 nc = std::min(Bk::NC, N - jc);
    for (i64 pc = 0; pc < K; pc += Bk::KC) {
      const i64 kc = std::min(Bk::KC, K - pc);
      const T beta_block = pc == 0 ? beta : T(1);  // later K blocks add to the partial sum
      const bool last_block = pc + kc == K;        // the epilogue runs once, on the full sum
      pack_b<T, Bk::NR>(buf.b.data(), trans_b, B, ldb, pc, kc, jc, nc);
      for (i64 ic = 0; ic < M; ic += Bk::MC) {
        const i64 mc = std::min(Bk::MC, M - ic);
        pack_a<T, Bk::MR>(buf.a.data(), trans_a, A, lda, ic, mc, pc, kc);
        macro_kernel<T, Bk, kernel>(mc, nc, kc, alpha, buf.a.data(), buf.b.data(), beta_block, C + ic * ldc + jc, ldc,
                                    last_block && epilogue.row_bias ? epilogue.row_bias + ic : nullptr,
                                    last_block && epilogue.relu);
      }
    }
  }
}

}  // namespace

GemmIsa gemm_isa() {
#ifdef CXR_GEMM_AVX2
  GemmIsa isa = g_isa.load(std::memory_order_relaxed);
  if (isa == GemmIsa::Auto) {
    isa = cpu_has_avx512() && !env_forces_avx2() ? GemmIsa::Avx512 : GemmIsa::Avx2;
    g_isa.store(isa, std::memory_order_relaxed);  // every thread detects the same answer
  }
  return isa;
#else
  return GemmIsa::Portable;
#endif
}

void set_gemm_isa(GemmIsa isa) {
#ifdef CXR_GEMM_AVX2
  CXR_CHECK(isa != GemmIsa::Portable, "set_gemm_isa: this build has no portable float kernel path");
  CXR_CHECK(isa != GemmIsa::Avx512 || cpu_has_avx512(), "set_gemm_isa: this CPU has no AVX-512");
  g_isa.store(isa, std::memory_order_relaxed);
#else
  CXR_CHECK(isa == GemmIsa::Portable || isa == GemmIsa::Auto, "set_gemm_isa: built without x86 kernels");
#endif
}

template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, T alpha, const T* A,
          std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C, std::int64_t ldc,
          const GemmEpilogue<T>& epilogue) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) {
    scale_c(M, N, beta, C, ldc, epilogue);
    return;
  }
#ifdef CXR_GEMM_AVX2
  if constexpr (std::is_same_v<T, float>) {
    if (gemm_isa() == GemmIsa::Avx512) {
      gemm_blocked<float, Avx512Blocking, micro_kernel_avx512>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta,
                                                               C, ldc, epilogue);
      return;
    }
  }
#endif
  gemm_blocked<T, Blocking<T>, micro_kernel<T>>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc,
                                                epilogue);
}

template <class T>
void gemm_parallel(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, T alpha, const T* A,
                   std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C, std::int64_t ldc) {
  using Bk = Blocking<T>;
  // Below ~1 MFLOP waking the pool costs more than it saves.
  constexpr double kMinParallelFlops = 1 << 20;
  if (num_threads() == 1 || 2.0 * M * N * K < kMinParallelFlops) {
    gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  // Split C along the dimension with more register tiles, in whole tiles.
  const i64 col_tiles = (N + Bk::NR - 1) / Bk::NR, row_tiles = (M + Bk::MR - 1) / Bk::MR;
  if (col_tiles >= row_tiles) {
    parallel_for(0, col_tiles, 1, [&](i64 t0, i64 t1) {
      const i64 j0 = t0 * Bk::NR, j1 = std::min(N, t1 * Bk::NR);
      const T* Bj = trans_b ? B + j0 * ldb : B + j0;
      gemm(trans_a, trans_b, M, j1 - j0, K, alpha, A, lda, Bj, ldb, beta, C + j0, ldc);
    });
  } else {
    parallel_for(0, row_tiles, 1, [&](i64 t0, i64 t1) {
      const i64 i0 = t0 * Bk::MR, i1 = std::min(M, t1 * Bk::MR);
      const T* Ai = trans_a ? A + i0 : A + i0 * lda;
      gemm(trans_a, trans_b, i1 - i0, N, K, alpha, Ai, lda, B, ldb, beta, C + i0 * ldc, ldc);
    });
  }
}

template <class T>
void gemm_reference(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, T alpha, const T* A,
                    std::int64_t lda, const T* B, std::int64_t ldb, T beta, T* C, std::int64_t ldc) {
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

#define CXR_INSTANTIATE(T)                                                                                         \
  template void gemm<T>(bool, bool, std::int64_t, std::int64_t, std::int64_t, T, const T*, std::int64_t, const T*, \
                        std::int64_t, T, T*, std::int64_t, const GemmEpilogue<T>&);                                \
  template void gemm_parallel<T>(bool, bool, std::int64_t, std::int64_t, std::int64_t, T, const T*, std::int64_t,  \
                                 const T*, std::int64_t, T, T*, std::int64_t);                                     \
  template void gemm_reference<T>(bool, bool, std::int64_t, std::int64_t, std::int64_t, T, const T*, std::int64_t, \
                                  const T*, std::int64_t, T, T*, std::int64_t);
CXR_INSTANTIATE(float)
CXR_INSTANTIATE(double)
#undef CXR_INSTANTIATE

}  // namespace cxr::cpu
