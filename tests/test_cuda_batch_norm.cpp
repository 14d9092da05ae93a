// batch_norm2d and batch_norm_relu2d on the GPU against the CPU, training and
// evaluation: the output, the running statistics and the gradients of x, gamma and
// beta, at odd sizes, batch 1, 1x1 maps, channel counts not a multiple of 32, maps
// that take the 16-byte vector path and maps split into several blocks, channels
// reduced in several chunks, and a large mean. float64 against the CPU op; float32
// within per-element rounding bounds of the exact result; the launchers on buffers
// with canaries; bit-identical run to run. Skipped with the reason without a GPU.
#include "cuda_parity.h"
#include "cuda_testing.h"
#include "expect_error.h"

#include "engine/ops.h"
#include "kernels/cpu/batch_norm.h"

#ifdef CXR_HAVE_CUDA
#include "kernels/cuda/batch_norm.h"
#endif

#include <cmath>
#include <string>

using namespace cxr;
using cxr::testing::expect_bitwise_equal;
using cxr::testing::expect_close;
using cxr::testing::OpResults;
using cxr::testing::run_op_on;

namespace {

const Device kGpu = Device::cuda();
constexpr double kMomentum = 0.1, kEps = 1e-5;

// {3, 10, 7, 5}: odd; {2, 33, 4, 8}: 33 channels, maps of 32; {1, 3, 1, 2}: batch 1,
// M = 2; {5, 9, 1, 1}: 1x1 maps; {2, 4, 45, 47}: a map not a multiple of 4; {2, 3, 64, 64}:
// vector path; {1, 2, 100, 100}: a map in two blocks; {40, 3, 8, 8}: several chunks.
const std::vector<Shape> kShapes = {{3, 10, 7, 5},  {2, 33, 4, 8},  {1, 3, 1, 2},     {5, 9, 1, 1},
                                    {2, 4, 45, 47}, {2, 3, 64, 64}, {1, 2, 100, 100}, {40, 3, 8, 8}};

struct Inputs {
  Tensor x, gamma, beta, running_mean, running_var, seed;
};

Inputs random_inputs(const Shape& s, Generator& gen, DType dtype, double x_lo = -2.0, double x_hi = 3.0) {
  const std::int64_t C = s[1];
  return {cxr::testing::random_tensor(s, gen, dtype, x_lo, x_hi).set_requires_grad(),
          cxr::testing::random_tensor({C}, gen, dtype, 0.5, 1.5).set_requires_grad(),
          cxr::testing::random_tensor({C}, gen, dtype).set_requires_grad(),
          cxr::testing::random_tensor({C}, gen, dtype),
          cxr::testing::random_tensor({C}, gen, dtype, 0.5, 2.0),
          cxr::testing::random_tensor(s, gen, dtype)};
}

struct BnRun {
  OpResults r;
  Tensor running_mean, running_var;  // after the call, on the CPU
};

BnRun run_on(Device device, const Inputs& in, bool training, bool relu) {
  Tensor rm = in.running_mean.detach().to(device).clone(), rv = in.running_var.detach().to(device).clone();
  const cxr::testing::Function f = [&](const std::vector<Tensor>& t) {
    return relu ? batch_norm_relu2d(t[0], t[1], t[2], rm, rv, training, kMomentum, kEps)
                : batch_norm2d(t[0], t[1], t[2], rm, rv, training, kMomentum, kEps);
  };
  OpResults r = run_op_on(device, f, {in.x, in.gamma, in.beta}, in.seed);
  return {r, rm.to(Device::cpu()), rv.to(Device::cpu())};
}

std::string describe(const Shape& s, bool training, bool relu) {
  return shape_str(s) + (training ? " training" : " evaluation") + (relu ? " fused ReLU" : "");
}

// float64: the statistics and gradient sums are added in another order on the GPU.
// Sums of M <= 10000 terms of magnitude <= 3 differ by at most M * 2^-53 of their
// magnitude sum (< 1e-11 relative), which the normalised outputs and input
// gradients inherit; dgamma and dbeta are such sums themselves (magnitude up to
// ~3e4): 1e-8 absolute.
TEST(CudaBatchNorm, Float64MatchesTheCpuInEveryMode) {
  CXR_REQUIRE_GPU();
  Generator gen(50);
  for (const Shape& s : kShapes)
    for (bool training : {true, false})
      for (bool relu : {false, true}) {
        SCOPED_TRACE(describe(s, training, relu));
        const Inputs in = random_inputs(s, gen, DType::F64);
        const BnRun gpu = run_on(kGpu, in, training, relu), cpu = run_on(Device::cpu(), in, training, relu);
        cxr::testing::expect_results_close(gpu.r, cpu.r, {1e-10, 1e-10, 1e-8, 1e-8}, {1e-10, 1e-10, 1e-10, 1e-10});
        expect_close(gpu.running_mean, cpu.running_mean, 1e-12, 1e-12);
        expect_close(gpu.running_var, cpu.running_var, 1e-12, 1e-12);
      }
}

// float32 on the GPU against the exact result (the CPU op in float64 on the same
// float32 values). Each output is a short formula of a few float32 operations on
// per-channel constants that are themselves rounded to float32 once, so its error
// is at most a few units of 2^-24 of the sum of the magnitudes of its terms:
//   out = (x - mean) * scale + beta            terms |x - mean||scale|, |mean||scale|, |beta|
//   dx  = k_dy g + k_xc (x - mean) + k_0       terms |k_dy g|, |k_xc|(|x - mean| + |mean|), |k_0|,
//         plus k_xc's own error from sum(g (x - mean)) of float32 products (2^-23 each)
//   dgamma = invstd sum(g (x - mean)), dbeta = sum(g), summed in double
// We allow 16 units per term (a factor of 2 or more over the count of roundings).
// The running statistics are rounded to float32 once.
struct Bounds {
  std::vector<double> out, dx, dgamma, dbeta;
};

Bounds float32_bounds(const Inputs& in64, bool training) {
  const std::int64_t N = in64.x.size(0), C = in64.x.size(1), HW = in64.x.size(2) * in64.x.size(3);
  const double M = static_cast<double>(N * HW), u = std::ldexp(1.0, -24);
  const std::vector<double> x = in64.x.to_vector(), g = in64.seed.to_vector();
  Bounds b{std::vector<double>(x.size()), std::vector<double>(x.size()), std::vector<double>(C),
           std::vector<double>(C)};
  for (std::int64_t c = 0; c < C; ++c) {
    double mean = 0, var = 0;
    auto each = [&](auto fn) {
      for (std::int64_t n = 0; n < N; ++n)
        for (std::int64_t i = 0; i < HW; ++i) fn((n * C + c) * HW + i);
    };
    if (training) {
      each([&](std::int64_t k) { mean += x[k]; });
      mean /= M;
      each([&](std::int64_t k) { var += (x[k] - mean) * (x[k] - mean); });
      var /= M;
    } else {
      mean = in64.running_mean.at(c);
      var = in64.running_var.at(c);
    }
    const double invstd = 1 / std::sqrt(var + kEps), gamma = std::abs(in64.gamma.at(c));
    const double scale = gamma * invstd, beta = std::abs(in64.beta.at(c));
    double sum_g = 0, sum_g_xc = 0, abs_g = 0, abs_g_xc = 0;
    each([&](std::int64_t k) {
      sum_g += g[k];
      sum_g_xc += g[k] * (x[k] - mean);
      abs_g += std::abs(g[k]);
      abs_g_xc += std::abs(g[k]) * (std::abs(x[k] - mean) + std::abs(mean));
    });
    const double k_dy = scale, k_xc = training ? k_dy * invstd * invstd * std::abs(sum_g_xc) / M : 0;
    const double k_0 = training ? k_dy * std::abs(sum_g) / M : 0;
    const double k_xc_error = training ? k_dy * invstd * invstd * 2 * u * abs_g_xc / M : 0;
    each([&](std::int64_t k) {
      const double xc = std::abs(x[k] - mean);
      b.out[k] = 16 * u * (xc * scale + std::abs(mean) * scale + beta);
      b.dx[k] =
          16 * u * (k_dy * std::abs(g[k]) + k_xc * (xc + std::abs(mean)) + k_0) + k_xc_error * (xc + std::abs(mean));
    });
    b.dgamma[c] = 16 * u * invstd * abs_g_xc;
    b.dbeta[c] = 16 * u * abs_g;
  }
  return b;
}

void expect_within(const Tensor& got, const Tensor& want, const std::vector<double>& bound, const char* what) {
  const std::vector<double> a = got.to_vector(), e = want.to_vector();
  ASSERT_EQ(a.size(), bound.size());
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], e[i], bound[i] + 1e-30) << what << " element " << i;
}

TEST(CudaBatchNorm, Float32WithinTheRoundingBoundOfTheExactResult) {
  CXR_REQUIRE_GPU();
  Generator gen(51);
  const double u = std::ldexp(1.0, -24);
  for (const Shape& s : kShapes)
    for (bool training : {true, false}) {
      SCOPED_TRACE(describe(s, training, false));
      const Inputs in32 = random_inputs(s, gen, DType::F32);
      auto widen = [](const Tensor& t) {
        return t.detach().to(DType::F64).set_requires_grad(t.requires_grad());
      };
      const Inputs in64{widen(in32.x),           widen(in32.gamma), widen(in32.beta), widen(in32.running_mean),
                        widen(in32.running_var), widen(in32.seed)};
      const BnRun gpu = run_on(kGpu, in32, training, false), exact = run_on(Device::cpu(), in64, training, false);
      const Bounds b = float32_bounds(in64, training);
      expect_within(gpu.r.out, exact.r.out, b.out, "out");
      expect_within(gpu.r.grads[0], exact.r.grads[0], b.dx, "dx");
      expect_within(gpu.r.grads[1], exact.r.grads[1], b.dgamma, "dgamma");
      expect_within(gpu.r.grads[2], exact.r.grads[2], b.dbeta, "dbeta");
      expect_close(gpu.running_mean, exact.running_mean, 0, 2 * u);
      expect_close(gpu.running_var, exact.running_var, 0, 2 * u);
    }
}

// Values 1e4 + U(-1, 1): the shifted double sums keep the variance (1/3) that an
// unshifted float32 E[x^2] - E[x]^2 would lose entirely; float32 rounding only.
TEST(CudaBatchNorm, VarianceSurvivesALargeMean) {
  CXR_REQUIRE_GPU();
  Generator gen(52);
  const Inputs in = random_inputs({4, 3, 9, 9}, gen, DType::F32, 1e4 - 1, 1e4 + 1);
  const BnRun gpu = run_on(kGpu, in, true, false), cpu = run_on(Device::cpu(), in, true, false);
  expect_close(gpu.running_var, cpu.running_var, 0, 4 * std::ldexp(1.0, -24));
}

// The statistics and gradient sums are reduced in a fixed order: the same bits every run.
TEST(CudaBatchNorm, BitIdenticalRunToRun) {
  CXR_REQUIRE_GPU();
  Generator gen(53);
  const Inputs in = random_inputs({40, 3, 8, 8}, gen, DType::F32);
  const BnRun a = run_on(kGpu, in, true, true), b = run_on(kGpu, in, true, true);
  expect_bitwise_equal(a.r.out, b.r.out);
  for (std::size_t i = 0; i < 3; ++i) expect_bitwise_equal(a.r.grads[i], b.r.grads[i]);
  expect_bitwise_equal(a.running_var, b.running_var);
}

TEST(CudaBatchNorm, TensorsOnTwoDevicesAreRefused) {
  CXR_REQUIRE_GPU();
  Generator gen(54);
  Inputs in = random_inputs({2, 3, 4, 4}, gen, DType::F32);
  const Tensor x = in.x.detach().to(kGpu);
  cxr::testing::expect_error_mentioning(
      [&] { (void)batch_norm2d(x, in.gamma, in.beta, in.running_mean, in.running_var, true); },
      {"batch_norm2d", "different devices", "cuda:0", "cpu"});
}

#ifdef CXR_HAVE_CUDA

template <class T>
std::vector<T> host_values(const Tensor& t) {
  const std::vector<double> v = t.to_vector();
  return std::vector<T>(v.begin(), v.end());
}

// The launchers on device buffers with canaries around every output, against the
// CPU kernels on the same values: float64 compared as in the op test (order of
// summation only); float32 for the canaries and the vector paths' bounds.
template <class T>
void expect_launchers_match(const Shape& s, bool relu, Generator& gen) {
  const std::int64_t N = s[0], C = s[1], HW = s[2] * s[3], n = N * C * HW;
  const Inputs in = random_inputs(s, gen, DType::F64);
  const std::vector<T> x = host_values<T>(in.x), gamma = host_values<T>(in.gamma), beta = host_values<T>(in.beta),
                       rm = host_values<T>(in.running_mean), rv = host_values<T>(in.running_var),
                       dy = host_values<T>(in.seed);
  const bool exact_type = sizeof(T) == 8;
  auto compare = [&](cxr::testing::CanaryBuffer<T>& got, const std::vector<T>& want, const char* what) {
    got.expect_canaries_intact();
    const std::vector<T> g = got.download();
    if (!exact_type) return;  // float32 values are checked against their bounds at op level
    for (std::size_t i = 0; i < g.size(); ++i)
      ASSERT_NEAR(g[i], want[i], 1e-8 + 1e-10 * std::abs(want[i])) << what << " element " << i;
  };
  cxr::testing::CanaryBuffer<T> xd(x), gd(gamma), bd(beta), dyd(dy);
  for (bool training : {true, false}) {
    SCOPED_TRACE(training ? "training" : "evaluation");
    std::vector<T> out(n), mean(C), invstd(C), rm_cpu = rm, rv_cpu = rv;
    cxr::testing::CanaryBuffer<T> out_d(n), mean_d(C), invstd_d(C), rm_d(rm), rv_d(rv);
    if (training) {
      cpu::batch_norm_forward_train(out.data(), mean.data(), invstd.data(), rm_cpu.data(), rv_cpu.data(), x.data(),
                                    gamma.data(), beta.data(), N, C, HW, kMomentum, kEps, relu);
      cuda::batch_norm_forward_train(out_d.data(), mean_d.data(), invstd_d.data(), rm_d.data(), rv_d.data(), xd.data(),
                                     gd.data(), bd.data(), N, C, HW, kMomentum, kEps, relu);
      compare(mean_d, mean, "save_mean");
    } else {
      mean = rm;
      mean_d.upload(rm);
      cpu::batch_norm_forward_eval(out.data(), invstd.data(), x.data(), gamma.data(), beta.data(), rm.data(), rv.data(),
                                   N, C, HW, kEps, relu);
      cuda::batch_norm_forward_eval(out_d.data(), invstd_d.data(), xd.data(), gd.data(), bd.data(), rm_d.data(),
                                    rv_d.data(), N, C, HW, kEps, relu);
    }
    compare(out_d, out, "out");
    compare(invstd_d, invstd, "save_invstd");
    compare(rm_d, rm_cpu, "running_mean");
    compare(rv_d, rv_cpu, "running_var");

    for (bool with_dx : {true, false}) {
      std::vector<T> dx(n), dgamma(C), dbeta(C);
      cxr::testing::CanaryBuffer<T> dx_d(n), dgamma_d(C), dbeta_d(C);
      cpu::batch_norm_backward(with_dx ? dx.data() : nullptr, dgamma.data(), dbeta.data(), dy.data(), x.data(),
                               mean.data(), invstd.data(), gamma.data(), N, C, HW, training,
                               relu ? out.data() : nullptr);
      cuda::batch_norm_backward(with_dx ? dx_d.data() : nullptr, dgamma_d.data(), dbeta_d.data(), dyd.data(), xd.data(),
                                mean_d.data(), invstd_d.data(), gd.data(), N, C, HW, training,
                                relu ? out_d.data() : nullptr);
      compare(dgamma_d, dgamma, "dgamma");
      compare(dbeta_d, dbeta, "dbeta");
      if (with_dx) {
        compare(dx_d, dx, "dx");
      } else {
        dx_d.expect_canaries_intact();
        const std::vector<T> untouched = dx_d.download();  // no dx asked: the NaN fill stays
        for (const T v : untouched) ASSERT_TRUE(std::isnan(v));
      }
    }
  }
}

TEST(CudaBatchNormKernels, LaunchersMatchTheCpuKernelsWithCanaries) {
  CXR_REQUIRE_GPU();
  Generator gen(55);
  for (const Shape& s : kShapes)
    for (bool relu : {false, true}) {
      SCOPED_TRACE(describe(s, true, relu));
      expect_launchers_match<double>(s, relu, gen);
      expect_launchers_match<float>(s, relu, gen);
    }
}

#endif  // CXR_HAVE_CUDA

}  // namespace
