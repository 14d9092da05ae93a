// The blocked GEMM against the textbook triple loop: all four transpose cases,
// odd sizes around the register tile (6 x 16) and the cache blocks (MC 144,
// KC 256, NC 2048), alpha/beta, padded leading dimensions.
#include "kernels/cpu/gemm.h"

#include "base/check.h"

#include "base/parallel.h"
#include "engine/random.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

using namespace cxr;
using cxr::cpu::gemm;
using cxr::cpu::gemm_parallel;
using cxr::cpu::gemm_reference;
using cxr::cpu::GemmIsa;

namespace {

// Every float micro-kernel this machine can run (AVX2 always on x86 builds, AVX-512
// where the CPU has it); tests run on each.
std::vector<GemmIsa> available_isas() {
  std::vector<GemmIsa> isas{cxr::cpu::gemm_isa()};
  for (GemmIsa isa : {GemmIsa::Avx2, GemmIsa::Avx512}) {
    if (isa == isas[0]) continue;
    try {
      cxr::cpu::set_gemm_isa(isa);
      isas.push_back(isa);
    } catch (const Error&) {
    }
  }
  cxr::cpu::set_gemm_isa(isas[0]);
  return isas;
}

// Runs body() once per available kernel and restores the default.
template <class Fn>
void for_each_isa(Fn&& body) {
  const auto isas = available_isas();
  for (GemmIsa isa : isas) {
    cxr::cpu::set_gemm_isa(isa);
    SCOPED_TRACE(isa == GemmIsa::Avx512 ? "AVX-512 kernel" : isa == GemmIsa::Avx2 ? "AVX2 kernel" : "portable");
    body();
  }
  cxr::cpu::set_gemm_isa(isas[0]);
}

struct Case {
  std::int64_t M, N, K;
};

// Sizes: 1, just under / over the tile, and past each cache block.
const std::vector<Case> kCases = {{1, 1, 1},     {5, 17, 33},  {17, 5, 1},   {33, 127, 5},
                                  {127, 33, 17}, {6, 16, 256}, {7, 31, 257}, {150, 40, 300},
                                  {13, 2100, 9}, {1, 300, 70}, {300, 1, 70}};

// A row-major matrix of rows x cols stored with leading dimension ld >= cols.
template <class T>
struct Matrix {
  std::int64_t rows, cols, ld;
  std::vector<T> v;
  Matrix(std::int64_t r, std::int64_t c, std::int64_t pad = 0)
      : rows(r), cols(c), ld(c + pad), v(static_cast<std::size_t>(r * (c + pad))) {}
};

template <class T>
void fill_random(Matrix<T>& m, Generator& gen) {
  for (auto& x : m.v) x = static_cast<T>(gen.uniform(-1.0, 1.0));
}
template <class T>
void fill_ints(Matrix<T>& m, Generator& gen, int lo, int hi) {
  for (auto& x : m.v) x = static_cast<T>(lo + static_cast<int>(gen.below(static_cast<std::uint64_t>(hi - lo + 1))));
}

// Stored shape of A (or B) so that op(A) is M x K.
template <class T>
Matrix<T> operand(bool trans, std::int64_t rows, std::int64_t cols, std::int64_t pad) {
  return trans ? Matrix<T>(cols, rows, pad) : Matrix<T>(rows, cols, pad);
}

TEST(Gemm, SmallIntegersMatchTheReferenceExactlyForAllTransposes) {
  Generator gen(1);
  for_each_isa([&] {
    for (bool ta : {false, true}) {
      for (bool tb : {false, true}) {
        for (const Case& c : kCases) {
          auto A = operand<float>(ta, c.M, c.K, 3);
          auto B = operand<float>(tb, c.K, c.N, 2);
          Matrix<float> C(c.M, c.N, 5), R(c.M, c.N, 5);
          fill_ints(A, gen, -3, 3);
          fill_ints(B, gen, -3, 3);
          fill_ints(C, gen, -5, 5);
          R.v = C.v;
          // |sum| <= 9 K <= 2700 and alpha, beta are small integers: every step is exact in float32.
          gemm<float>(ta, tb, c.M, c.N, c.K, 2.0f, A.v.data(), A.ld, B.v.data(), B.ld, -1.0f, C.v.data(), C.ld);
          gemm_reference<float>(ta, tb, c.M, c.N, c.K, 2.0f, A.v.data(), A.ld, B.v.data(), B.ld, -1.0f, R.v.data(),
                                R.ld);
          // Comparing the whole buffers also checks the padding columns of C are untouched.
          ASSERT_EQ(C.v, R.v) << "trans_a " << ta << " trans_b " << tb << " M " << c.M << " N " << c.N << " K " << c.K;
        }
      }
    }
  });
}

// The epilogue (row bias + ReLU) on small integers: exact, also for K past one KC
// block (257, 300), where it must run on the full sum and not per block.
TEST(Gemm, EpilogueAddsRowBiasThenReluOnTheFullSum) {
  Generator gen(11);
  for_each_isa([&] {
    for (bool ta : {false, true}) {
      for (const Case& c : kCases) {
        auto A = operand<float>(ta, c.M, c.K, 1);
        auto B = operand<float>(false, c.K, c.N, 2);
        Matrix<float> C(c.M, c.N, 3), R(c.M, c.N, 3);
        std::vector<float> bias(static_cast<std::size_t>(c.M));
        fill_ints(A, gen, -3, 3);
        fill_ints(B, gen, -3, 3);
        for (auto& b : bias) b = static_cast<float>(static_cast<int>(gen.below(21)) - 10);
        for (bool relu : {false, true}) {
          gemm<float>(ta, false, c.M, c.N, c.K, 1.0f, A.v.data(), A.ld, B.v.data(), B.ld, 0.0f, C.v.data(), C.ld,
                      cxr::GemmEpilogue<float>{bias.data(), relu});
          gemm_reference<float>(ta, false, c.M, c.N, c.K, 1.0f, A.v.data(), A.ld, B.v.data(), B.ld, 0.0f, R.v.data(),
                                R.ld);
          for (std::int64_t i = 0; i < c.M; ++i)
            for (std::int64_t j = 0; j < c.N; ++j) {
              float& r = R.v[i * R.ld + j];
              r += bias[i];
              if (relu && r < 0) r = 0;
            }
          ASSERT_EQ(C.v, R.v) << "trans_a " << ta << " relu " << relu << " M " << c.M << " N " << c.N << " K " << c.K;
        }
      }
    }
  });
}

// The AVX2 and AVX-512 kernels sum every element in the same FMA order: the same
// bits on random floats, so results do not depend on the machine's vector width.
TEST(Gemm, AvxKernelsAreBitIdentical) {
  const auto isas = available_isas();
  if (isas.size() < 2) GTEST_SKIP() << "this CPU runs only one float kernel";
  Generator gen(12);
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      for (const Case& c : kCases) {
        auto A = operand<float>(ta, c.M, c.K, 1);
        auto B = operand<float>(tb, c.K, c.N, 1);
        Matrix<float> C0(c.M, c.N), C1(c.M, c.N);
        fill_random(A, gen);
        fill_random(B, gen);
        fill_random(C0, gen);
        C1.v = C0.v;
        cxr::cpu::set_gemm_isa(GemmIsa::Avx2);
        gemm<float>(ta, tb, c.M, c.N, c.K, 0.5f, A.v.data(), A.ld, B.v.data(), B.ld, 0.25f, C0.v.data(), C0.ld);
        cxr::cpu::set_gemm_isa(GemmIsa::Avx512);
        gemm<float>(ta, tb, c.M, c.N, c.K, 0.5f, A.v.data(), A.ld, B.v.data(), B.ld, 0.25f, C1.v.data(), C1.ld);
        ASSERT_EQ(C0.v, C1.v) << "trans_a " << ta << " trans_b " << tb << " M " << c.M << " N " << c.N;
      }
    }
  }
  cxr::cpu::set_gemm_isa(isas[0]);
}

// Rigorous float32 bound: |fl(sum) - sum| <= gamma_K * sum |a_k b_k| with
// gamma_K ~ K u, u = 2^-24 (Higham, Accuracy and Stability, 3.1); (K + 2) covers
// the alpha/beta update too. The reference accumulates in double.
TEST(Gemm, RandomFloatsWithinTheDotProductErrorBound) {
  Generator gen(2);
  const double u = std::ldexp(1.0, -24);
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      for (const Case& c : kCases) {
        auto A = operand<float>(ta, c.M, c.K, 1);
        auto B = operand<float>(tb, c.K, c.N, 0);
        Matrix<float> C(c.M, c.N), R(c.M, c.N), bound(c.M, c.N);
        fill_random(A, gen);
        fill_random(B, gen);
        fill_random(C, gen);
        R.v = C.v;
        const float alpha = 0.75f, beta = 0.5f;
        gemm<float>(ta, tb, c.M, c.N, c.K, alpha, A.v.data(), A.ld, B.v.data(), B.ld, beta, C.v.data(), C.ld);
        gemm_reference<float>(ta, tb, c.M, c.N, c.K, alpha, A.v.data(), A.ld, B.v.data(), B.ld, beta, R.v.data(), R.ld);
        auto absA = A, absB = B;
        for (auto& x : absA.v) x = std::abs(x);
        for (auto& x : absB.v) x = std::abs(x);
        gemm_reference<float>(ta, tb, c.M, c.N, c.K, 1.0f, absA.v.data(), A.ld, absB.v.data(), B.ld, 0.0f,
                              bound.v.data(), bound.ld);
        for (std::size_t i = 0; i < C.v.size(); ++i) {
          const double tol = (c.K + 2) * u * (alpha * bound.v[i] + beta * std::abs(R.v[i])) + 1e-30;
          ASSERT_NEAR(C.v[i], R.v[i], tol) << "element " << i << " M " << c.M << " N " << c.N << " K " << c.K;
        }
      }
    }
  }
}

TEST(Gemm, DoubleMatchesTheReference) {
  Generator gen(3);
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      for (const Case& c : kCases) {
        auto A = operand<double>(ta, c.M, c.K, 2);
        auto B = operand<double>(tb, c.K, c.N, 1);
        Matrix<double> C(c.M, c.N, 1), R(c.M, c.N, 1);
        fill_random(A, gen);
        fill_random(B, gen);
        fill_random(C, gen);
        R.v = C.v;
        gemm<double>(ta, tb, c.M, c.N, c.K, -1.5, A.v.data(), A.ld, B.v.data(), B.ld, 2.0, C.v.data(), C.ld);
        gemm_reference<double>(ta, tb, c.M, c.N, c.K, -1.5, A.v.data(), A.ld, B.v.data(), B.ld, 2.0, R.v.data(), R.ld);
        // |a|, |b| <= 1: the sum's rounding error is below K * 2^-53 * K ~ 1e-11 for K <= 300.
        for (std::size_t i = 0; i < C.v.size(); ++i) ASSERT_NEAR(C.v[i], R.v[i], 1e-11 + 1e-14 * std::abs(R.v[i]));
      }
    }
  }
}

TEST(Gemm, BetaZeroIgnoresGarbageInC) {
  Generator gen(4);
  for (const Case& c : kCases) {
    Matrix<float> A(c.M, c.K), B(c.K, c.N), C(c.M, c.N), R(c.M, c.N);
    fill_ints(A, gen, -2, 2);
    fill_ints(B, gen, -2, 2);
    std::fill(C.v.begin(), C.v.end(), std::numeric_limits<float>::quiet_NaN());
    gemm<float>(false, false, c.M, c.N, c.K, 1.0f, A.v.data(), A.ld, B.v.data(), B.ld, 0.0f, C.v.data(), C.ld);
    gemm_reference<float>(false, false, c.M, c.N, c.K, 1.0f, A.v.data(), A.ld, B.v.data(), B.ld, 0.0f, R.v.data(),
                          R.ld);
    ASSERT_EQ(C.v, R.v);
  }
}

TEST(Gemm, EmptyKScalesCByBeta) {
  Matrix<float> C(3, 4);
  std::fill(C.v.begin(), C.v.end(), 2.0f);
  gemm<float>(false, false, 3, 4, 0, 1.0f, nullptr, 1, nullptr, 4, 3.0f, C.v.data(), C.ld);
  EXPECT_EQ(C.v, std::vector<float>(12, 6.0f));
  gemm<float>(false, false, 3, 4, 0, 1.0f, nullptr, 1, nullptr, 4, 0.0f, C.v.data(), C.ld);
  EXPECT_EQ(C.v, std::vector<float>(12, 0.0f));
}

// gemm_parallel splits C into whole register tiles and every element keeps its
// summation order, so it equals gemm bit for bit, for any thread count.
TEST(Gemm, ParallelIsBitIdenticalToSerialForAnyThreadCount) {
  Generator gen(5);
  const int threads = num_threads();
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      for (Case c : {Case{300, 200, 300}, Case{40, 900, 33}, Case{700, 20, 65}}) {
        auto A = operand<float>(ta, c.M, c.K, 0);
        auto B = operand<float>(tb, c.K, c.N, 0);
        Matrix<float> serial(c.M, c.N);
        fill_random(A, gen);
        fill_random(B, gen);
        gemm<float>(ta, tb, c.M, c.N, c.K, 1.0f, A.v.data(), A.ld, B.v.data(), B.ld, 0.0f, serial.v.data(), c.N);
        for (int t : {2, 3}) {
          set_num_threads(t);
          Matrix<float> par(c.M, c.N);
          gemm_parallel<float>(ta, tb, c.M, c.N, c.K, 1.0f, A.v.data(), A.ld, B.v.data(), B.ld, 0.0f, par.v.data(),
                               c.N);
          ASSERT_EQ(par.v, serial.v) << t << " threads";
        }
        set_num_threads(threads);
      }
    }
  }
}

}  // namespace
