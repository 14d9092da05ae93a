// The CUDA GEMM (fp32 SIMT, TF32 tensor cores, fp64) and the linear op on it,
// against the CPU: exact on small integers for every transpose, layout and
// epilogue (with canaries around C and untouched padding columns), within the
// rounding bounds of fp32 and TF32 on random data, bit-identical run to run; the
// linear op's device-mismatch error (its forward and backward against the CPU op run
// from the op registry). Without a GPU every test but the argument check is skipped
// with the reason.
#include "cuda_testing.h"
#include "expect_error.h"

#include "engine/ops.h"
#include "kernels/cpu/gemm.h"

#ifdef CXR_HAVE_CUDA
#include "kernels/cuda/gemm.h"
#endif

#include <cmath>
#include <cstring>
#include <string>

using namespace cxr;
using cxr::testing::expect_close;

namespace {

const Device kGpu = Device::cuda();

#ifdef CXR_HAVE_CUDA

using i64 = std::int64_t;

struct GemmShape {
  i64 M, N, K;
};

// Odd sizes, exact tile multiples and one past them, a long K with few outputs
// (the split-K path), K = 0 (only beta * C and the epilogue), a single element.
const std::vector<GemmShape> kShapes = {{1, 1, 1},     {7, 5, 3},     {128, 128, 8}, {129, 127, 9},
                                        {37, 300, 17}, {3, 40, 5000}, {200, 3, 70},  {5, 6, 0}};

struct Epilogue {
  double alpha, beta;
  bool bias, relu;
};
const std::vector<Epilogue> kEpilogues = {{1, 0, false, false}, {2, -1, true, true}, {1, 1, true, false}};

template <class T>
std::vector<T> random_values(i64 n, Generator& gen, bool ints, int lo = -3, int hi = 3) {
  std::vector<T> v(static_cast<std::size_t>(n));
  for (auto& x : v)
    x = ints ? static_cast<T>(lo + static_cast<int>(gen.below(static_cast<std::uint64_t>(hi - lo + 1))))
             : static_cast<T>(gen.uniform(-1.0, 1.0));
  return v;
}

// One product in a given layout: A, B, C row strides padded by `pad` elements
// (pad 1 makes rows start unaligned, so the vector loads must fall back).
template <class T>
struct Problem {
  bool ta, tb;
  GemmShape s;
  i64 lda, ldb, ldc;
  std::vector<T> a, b, c0, bias;

  Problem(bool ta_, bool tb_, GemmShape s_, i64 pad, Generator& gen, bool ints, int lo = -3, int hi = 3)
      : ta(ta_), tb(tb_), s(s_), lda((ta ? s.M : s.K) + pad), ldb((tb ? s.K : s.N) + pad), ldc(s.N + pad) {
    a = random_values<T>((ta ? s.K : s.M) * lda, gen, ints, lo, hi);
    b = random_values<T>((tb ? s.N : s.K) * ldb, gen, ints, lo, hi);
    c0 = random_values<T>(s.M * ldc, gen, ints, lo, hi);
    bias = random_values<T>(s.M, gen, ints, lo, hi);
  }

  // C on the GPU (canaries around it; beta == 0 leaves the NaN fill, which must not leak).
  std::vector<T> run_gpu(const Epilogue& e, cuda::GemmMath math, bool check_canaries = true) const {
    cxr::testing::CanaryBuffer<T> A(a), B(b), C(s.M * ldc), bias_d(bias);
    if (e.beta != 0) C.upload(c0);
    const GemmEpilogue<T> epilogue{e.bias ? bias_d.data() : nullptr, e.relu};
    cuda::gemm<T>(ta, tb, s.M, s.N, s.K, T(e.alpha), A.data(), lda, B.data(), ldb, T(e.beta), C.data(), ldc, epilogue,
                  math);
    if (check_canaries) C.expect_canaries_intact();
    return C.download();
  }

  // The textbook product and the same epilogue on the CPU, in the same layout.
  std::vector<T> reference(const Epilogue& e, const std::vector<T>* a_in = nullptr,
                           const std::vector<T>* b_in = nullptr) const {
    std::vector<T> c(static_cast<std::size_t>(s.M * ldc));
    if (e.beta != 0) {
      c = c0;
    } else {
      std::memset(c.data(), 0xFF, c.size() * sizeof(T));  // the canary buffer's NaN fill
    }
    cpu::gemm_reference<T>(ta, tb, s.M, s.N, s.K, T(e.alpha), (a_in ? *a_in : a).data(), lda, (b_in ? *b_in : b).data(),
                           ldb, T(e.beta), c.data(), ldc);
    for (i64 i = 0; i < s.M; ++i)
      for (i64 j = 0; j < s.N; ++j) {
        T& v = c[i * ldc + j];
        if (e.bias) v += bias[i];
        if (e.relu && !(v > T(0))) v = T(0);
      }
    return c;
  }
};

template <class T>
void expect_same_bits(const std::vector<T>& got, const std::vector<T>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    if (std::memcmp(&got[i], &want[i], sizeof(T)) != 0) {
      ADD_FAILURE() << "element " << i << ": " << got[i] << " vs " << want[i];
      return;
    }
}

std::string describe(bool ta, bool tb, const GemmShape& s, i64 pad) {
  return "trans " + std::to_string(ta) + std::to_string(tb) + ", " + std::to_string(s.M) + "x" + std::to_string(s.N) +
         "x" + std::to_string(s.K) + ", pad " + std::to_string(pad);
}

// Small integers: every product and partial sum is an integer far below 2^24, so
// fp32 and fp64 arithmetic are exact in any order. TF32 is exact too: an integer
// of magnitude below 2^11 has at most 11 significant bits, which TF32's 10-bit
// mantissa plus the implicit bit hold, so rounding the inputs changes nothing, and
// the tensor cores multiply exactly and accumulate in fp32. Every element of C,
// padding columns included (which must keep their NaN fill), must match the CPU.
template <class T>
void expect_exact_on_integers(cuda::GemmMath math) {
  Generator gen(11);
  for (const GemmShape& s : kShapes)
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (i64 pad : {0, 1})
          for (const Epilogue& e : kEpilogues) {
            SCOPED_TRACE(describe(ta, tb, s, pad) + ", alpha " + std::to_string(e.alpha) + " beta " +
                         std::to_string(e.beta));
            const Problem<T> p(ta, tb, s, pad, gen, true);
            expect_same_bits(p.run_gpu(e, math), p.reference(e));
          }
}

TEST(CudaGemm, Fp32ExactOnSmallIntegersForEveryLayoutAndEpilogue) {
  CXR_REQUIRE_GPU();
  expect_exact_on_integers<float>(cuda::GemmMath::Fp32);
}

TEST(CudaGemm, Fp64ExactOnSmallIntegersForEveryLayoutAndEpilogue) {
  CXR_REQUIRE_GPU();
  expect_exact_on_integers<double>(cuda::GemmMath::Fp32);
}

TEST(CudaGemm, Tf32ExactOnSmallIntegersForEveryLayoutAndEpilogue) {
  CXR_REQUIRE_GPU();
  expect_exact_on_integers<float>(cuda::GemmMath::Tf32);
}

// Integers up to 1023 in magnitude (10 bits) pass through TF32 unchanged; with
// K <= 15 every sum stays below 15 * 1023^2 < 2^24, so the result is exact.
TEST(CudaGemm, Tf32KeepsTenBitIntegersExact) {
  CXR_REQUIRE_GPU();
  Generator gen(12);
  for (const GemmShape& s : std::vector<GemmShape>{{130, 129, 15}, {16, 8, 8}, {1, 200, 7}})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        SCOPED_TRACE(describe(ta, tb, s, 0));
        const Problem<float> p(ta, tb, s, 0, gen, true, -1023, 1023);
        const Epilogue plain{1, 0, false, false};
        expect_same_bits(p.run_gpu(plain, cuda::GemmMath::Tf32), p.reference(plain));
      }
}

// Random data in [-1, 1] against the fp64 product of the same values, within the
// worst-case bounds, with m = sum over k of |a_ik| |b_kj| (the reference on |A|, |B|):
//   fp32: each element is one chain of fused multiply-adds over its K range, then
//     the split-K partials added in order: a term passes through at most
//     K_s + splits - 1 <= K roundings (K_s its range's length), so
//     |error| <= (K + 2) 2^-24 m (Higham 3.1).
//   TF32: each input is rounded to nearest with a 10-bit mantissa (relative error
//     <= 2^-11), so each exact product is off by <= (2^-10 + 2^-22) |a||b|; the
//     tensor cores' fp32 accumulation, whatever its internal rounding mode, adds at
//     most 2^-23 relative per addition: |error| <= (2^-10 + 2^-21 + (K + 2) 2^-23) m.
TEST(CudaGemm, RandomDataWithinTheRoundingBoundsOfFp32AndTf32) {
  CXR_REQUIRE_GPU();
  Generator gen(13);
  const Epilogue plain{1, 0, false, false};
  for (const GemmShape& s : std::vector<GemmShape>{{129, 127, 300}, {3, 40, 5000}, {64, 256, 33}})
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        const i64 pad = ta ? 1 : 0;  // aligned (vector loads) and unaligned (scalar) rows
        SCOPED_TRACE(describe(ta, tb, s, pad));
        const Problem<float> p(ta, tb, s, pad, gen, false);
        // fp64 reference on the float values, and on their magnitudes for S.
        Problem<double> q(ta, tb, s, pad, gen, false);
        q.a.assign(p.a.begin(), p.a.end());
        q.b.assign(p.b.begin(), p.b.end());
        const std::vector<double> exact = q.reference(plain);
        std::vector<double> abs_a(q.a.size()), abs_b(q.b.size());
        for (std::size_t i = 0; i < abs_a.size(); ++i) abs_a[i] = std::abs(q.a[i]);
        for (std::size_t i = 0; i < abs_b.size(); ++i) abs_b[i] = std::abs(q.b[i]);
        const std::vector<double> magnitude = q.reference(plain, &abs_a, &abs_b);

        const std::vector<float> fp32 = p.run_gpu(plain, cuda::GemmMath::Fp32);
        const std::vector<float> tf32 = p.run_gpu(plain, cuda::GemmMath::Tf32);
        const double K = static_cast<double>(s.K);
        const double fp32_bound = (K + 2) * std::ldexp(1.0, -24);
        const double tf32_bound = std::ldexp(1.0, -10) + std::ldexp(1.0, -21) + (K + 2) * std::ldexp(1.0, -23);
        i64 differ = 0;
        for (i64 i = 0; i < s.M; ++i)
          for (i64 j = 0; j < s.N; ++j) {
            const i64 at = i * p.ldc + j;
            ASSERT_NEAR(fp32[at], exact[at], fp32_bound * magnitude[at] + 1e-30) << "fp32 at " << i << ", " << j;
            ASSERT_NEAR(tf32[at], exact[at], tf32_bound * magnitude[at] + 1e-30) << "tf32 at " << i << ", " << j;
            differ += fp32[at] != tf32[at];
          }
        // The TF32 path really rounds its inputs: on random data it must differ from fp32.
        EXPECT_GT(differ, 0) << "TF32 results equal the fp32 ones everywhere";
      }
}

// Split-K partials are added in a fixed order: the same call gives the same bits.
TEST(CudaGemm, BitIdenticalRunToRun) {
  CXR_REQUIRE_GPU();
  Generator gen(14);
  const Epilogue plain{1, 0, false, false};
  for (const cuda::GemmMath math : {cuda::GemmMath::Fp32, cuda::GemmMath::Tf32}) {
    const Problem<float> p(false, true, {3, 40, 5000}, 0, gen, false);
    expect_same_bits(p.run_gpu(plain, math), p.run_gpu(plain, math));
  }
}

TEST(CudaGemm, Tf32IsRefusedForDouble) {
  if (!cuda::compiled()) GTEST_SKIP() << "CUDA backend not compiled";
  // Checked before any device work, so this runs without a GPU too.
  cxr::testing::expect_error_mentioning(
      [] {
        cuda::gemm<double>(false, false, 2, 2, 2, 1.0, nullptr, 2, nullptr, 2, 0.0, nullptr, 2, {},
                           cuda::GemmMath::Tf32);
      },
      {"TF32", "float32 only"});
}

#endif  // CXR_HAVE_CUDA

// ---- the linear op ------------------------------------------------------------------------

// The op's forward and backward against the CPU run from the op registry
// (tests/ops/conv.cpp, CudaParity.linear).

TEST(CudaLinear, InputsOnTwoDevicesAreRefused) {
  CXR_REQUIRE_GPU();
  const Tensor x = Tensor::zeros({2, 3}, DType::F32, kGpu), w = Tensor::zeros({4, 3});
  cxr::testing::expect_error_mentioning([&] { (void)linear(x, w, Tensor()); },
                                        {"linear", "different devices", "cuda:0", "cpu"});
}

}  // namespace
