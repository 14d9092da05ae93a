// batch_norm2d beyond the op registry's table (tests/ops/normalisation.cpp, where its
// finite differences in both modes live): gradients of gamma and beta alone, forward
// values and running statistics against a plain double reference and against values
// printed by PyTorch 1.13, the float32 fast path against the float64 path,
// determinism, and the error messages.
#include "expect_error.h"
#include "gradcheck.h"

#include "base/parallel.h"
#include "kernels/cpu/batch_norm.h"

#include <cmath>
#include <string>

using namespace cxr;
using cxr::testing::expect_error_mentioning;
using cxr::testing::expect_gradients_match;
using cxr::testing::random_tensor;

namespace {

struct Params {
  Tensor gamma, beta, running_mean, running_var;
};

Params random_params(std::int64_t C, Generator& gen, DType dtype = DType::F64) {
  return {random_tensor({C}, gen, dtype, 0.5, 1.5), random_tensor({C}, gen, dtype), random_tensor({C}, gen, dtype),
          random_tensor({C}, gen, dtype, 0.5, 2.0)};
}

// The textbook formula in double, one channel at a time: the output and the batch
// statistics (mean, biased variance) of x [N, C, H, W].
struct Reference {
  std::vector<double> out, mean, var;
};
Reference reference_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) {
  const std::int64_t N = x.size(0), C = x.size(1), HW = x.size(2) * x.size(3);
  Reference r{std::vector<double>(static_cast<std::size_t>(x.numel())),
              std::vector<double>(static_cast<std::size_t>(C)), std::vector<double>(static_cast<std::size_t>(C))};
  for (std::int64_t c = 0; c < C; ++c) {
    double sum = 0, sq = 0;
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t i = 0; i < HW; ++i) sum += x.at((n * C + c) * HW + i);
    const double mean = sum / static_cast<double>(N * HW);
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t i = 0; i < HW; ++i) sq += std::pow(x.at((n * C + c) * HW + i) - mean, 2);
    const double var = sq / static_cast<double>(N * HW);
    r.mean[c] = mean;
    r.var[c] = var;
    for (std::int64_t n = 0; n < N; ++n)
      for (std::int64_t i = 0; i < HW; ++i) {
        const std::int64_t k = (n * C + c) * HW + i;
        r.out[k] = (x.at(k) - mean) / std::sqrt(var + eps) * gamma.at(c) + beta.at(c);
      }
  }
  return r;
}

TEST(BatchNorm, GradientsOfGammaAndBetaAloneLeaveTheInputWithout) {
  Generator gen(3);
  auto x = random_tensor({3, 5, 2, 3}, gen);  // no requires_grad: dx is skipped
  Params p = random_params(5, gen);
  p.gamma.set_requires_grad();
  p.beta.set_requires_grad();
  expect_gradients_match(
      [&p](const std::vector<Tensor>& in) {
        return batch_norm2d(in[0], in[1], in[2], p.running_mean, p.running_var, true);
      },
      {x, p.gamma, p.beta});
  EXPECT_FALSE(x.grad().defined());
}

TEST(BatchNorm, MatchesValuesPrintedByPyTorch) {
  // F.batch_norm(x, rm, rv, g, b, training=True, momentum=0.2, eps=1e-3), then eval with
  // the updated running statistics, in float64 (torch 1.13).
  auto x = Tensor::from_vector(std::vector<double>{1, 2, 4, 8, -1, 0.5, 3, 3.5}, {2, 2, 1, 2}, DType::F64);
  auto gamma = Tensor::from_vector(std::vector<double>{1.5, -0.5}, {2}, DType::F64);
  auto beta = Tensor::from_vector(std::vector<double>{0.1, 0.2}, {2}, DType::F64);
  auto rm = Tensor::from_vector(std::vector<double>{0.5, -0.5}, {2}, DType::F64);
  auto rv = Tensor::from_vector(std::vector<double>{2.0, 0.25}, {2}, DType::F64);
  const std::vector<double> train_out = {0.6193936815560726,  2.0044434990389326,  0.35777848687095304,
                                         -0.6520038291031467, -2.1507059534096475, -0.07313122718535747,
                                         0.610224065864478,   0.4840012763677155};
  const std::vector<double> eval_out = {0.6150751947357158,  1.6994440257582755,  -1.3560394775737363,
                                        -3.147164056075879,  -1.5536624673094035, 0.07289077922443599,
                                        -0.9082583329482007, -1.1321489052609686};
  // float64 arithmetic in a different order than torch's: a few ulps of O(1) values.
  const double atol = 1e-14, rtol = 1e-14;
  const auto train = batch_norm2d(x, gamma, beta, rm, rv, true, 0.2, 1e-3).to_vector();
  for (std::size_t i = 0; i < train.size(); ++i)
    EXPECT_NEAR(train[i], train_out[i], atol + rtol * std::abs(train_out[i])) << i;
  // Running statistics use the unbiased variance: channel 0 has values {1, 2, -1, 0.5}.
  EXPECT_NEAR(rm.at(0), 0.525, 1e-15);
  EXPECT_NEAR(rm.at(1), 0.525, 1e-15);
  EXPECT_NEAR(rv.at(0), 1.9125, 1e-15);
  EXPECT_NEAR(rv.at(1), 1.2458333333333333, 1e-15);
  const auto eval = batch_norm2d(x, gamma, beta, rm, rv, false, 0.2, 1e-3).to_vector();
  for (std::size_t i = 0; i < eval.size(); ++i)
    EXPECT_NEAR(eval[i], eval_out[i], atol + rtol * std::abs(eval_out[i])) << i;
  EXPECT_EQ(rm.at(0), 0.525);  // evaluation leaves the running statistics alone
}

TEST(BatchNorm, Float32MatchesThePlainReferenceAndUpdatesRunningStatistics) {
  Generator gen(4);
  const double momentum = 0.1, eps = 1e-5;
  for (const Shape& s : std::vector<Shape>{{3, 10, 7, 5}, {2, 16, 4, 8}, {1, 3, 1, 2}, {5, 9, 1, 1}}) {
    const std::int64_t C = s[1], M = s[0] * s[2] * s[3];
    auto x = random_tensor(s, gen, DType::F32, -2.0, 3.0);
    Params p = random_params(C, gen, DType::F32);
    const Tensor rm0 = p.running_mean.clone(), rv0 = p.running_var.clone();
    const auto out = batch_norm2d(x, p.gamma, p.beta, p.running_mean, p.running_var, true, momentum, eps);
    const Reference r = reference_train(x, p.gamma, p.beta, eps);
    // float32 output of O(1) values: a few float32 ulps (2^-23 ~ 1.2e-7) of ~4.
    for (std::int64_t i = 0; i < x.numel(); ++i)
      ASSERT_NEAR(out.at(i), r.out[i], 2e-6 + 1e-6 * std::abs(r.out[i])) << shape_str(s) << " " << i;
    for (std::int64_t c = 0; c < C; ++c) {
      const double want_mean = (1 - momentum) * rm0.at(c) + momentum * r.mean[c];
      const double want_var = (1 - momentum) * rv0.at(c) + momentum * r.var[c] * M / (M - 1);
      // Statistics are accumulated in double; only the final float32 rounding remains.
      EXPECT_NEAR(p.running_mean.at(c), want_mean, 1e-7 + 2e-7 * std::abs(want_mean));
      EXPECT_NEAR(p.running_var.at(c), want_var, 1e-7 + 2e-7 * std::abs(want_var));
    }
  }
}

TEST(BatchNorm, VarianceSurvivesALargeMean) {
  // Values 1e4 + U(-1, 1): an unshifted float32 E[x^2] - E[x]^2 would lose every digit
  // (1e8 against a variance of 1/3); the shifted double sums keep them.
  Generator gen(5);
  auto x = random_tensor({4, 3, 9, 9}, gen, DType::F32, 1e4 - 1, 1e4 + 1);
  Params p = random_params(3, gen, DType::F32);
  p.running_mean.zero_();
  p.running_var.zero_();
  batch_norm2d(x, p.gamma, p.beta, p.running_mean, p.running_var, true, 1.0, 1e-5);
  const Reference r = reference_train(x, p.gamma, p.beta, 1e-5);
  const double M = 4 * 9 * 9;
  for (int c = 0; c < 3; ++c) {
    const double unbiased = r.var[c] * M / (M - 1);
    EXPECT_NEAR(p.running_var.at(c), unbiased, 2e-7 * unbiased);  // float32 rounding only
  }
}

TEST(BatchNorm, Float32FastPathsMatchFloat64) {
  // Same data through the float32 (AVX2) and float64 kernels, forward and backward.
  Generator gen(6);
  for (const Shape& s : std::vector<Shape>{{3, 10, 7, 5}, {2, 5, 4, 8}, {4, 3, 1, 1}, {1, 2, 17, 3}}) {
    const std::int64_t C = s[1];
    auto x64 = random_tensor(s, gen, DType::F64, -2.0, 3.0).to(DType::F32).to(DType::F64);
    auto dy64 = random_tensor(s, gen).to(DType::F32).to(DType::F64);
    Params p64 = random_params(C, gen);
    p64.gamma = p64.gamma.to(DType::F32).to(DType::F64);
    p64.beta = p64.beta.to(DType::F32).to(DType::F64);
    for (bool training : {true, false}) {
      Params p32{p64.gamma.to(DType::F32), p64.beta.to(DType::F32), p64.running_mean.to(DType::F32),
                 p64.running_var.to(DType::F32)};
      Tensor x32 = x64.to(DType::F32).set_requires_grad();
      Tensor g32 = p32.gamma.set_requires_grad(), b32 = p32.beta.set_requires_grad();
      Tensor xd = x64.clone().set_requires_grad();
      Tensor gd = p64.gamma.clone().set_requires_grad(), bd = p64.beta.clone().set_requires_grad();
      Tensor rm = p64.running_mean.clone(), rv = p64.running_var.clone();
      Tensor rm32 = p32.running_mean, rv32 = p32.running_var;

      Tensor y32 = batch_norm2d(x32, g32, b32, rm32, rv32, training);
      Tensor y64 = batch_norm2d(xd, gd, bd, rm, rv, training);
      y32.backward(dy64.to(DType::F32));
      y64.backward(dy64);
      // float32 rounding of O(1) results; dgamma/dbeta sum up to M = 105 terms of O(1).
      auto expect_close = [&](const Tensor& a, const Tensor& b, double atol, const char* what) {
        for (std::int64_t i = 0; i < a.numel(); ++i)
          ASSERT_NEAR(a.at(i), b.at(i), atol + 1e-5 * std::abs(b.at(i)))
              << what << " " << shape_str(s) << " training " << training << " at " << i;
      };
      expect_close(y32, y64, 1e-5, "out");
      expect_close(x32.grad(), xd.grad(), 1e-5, "dx");
      expect_close(g32.grad(), gd.grad(), 1e-4, "dgamma");
      expect_close(b32.grad(), bd.grad(), 1e-4, "dbeta");
      expect_close(rm32, rm, 1e-6, "running_mean");
      expect_close(rv32, rv, 1e-6, "running_var");
    }
  }
}

TEST(BatchNorm, RunningStatisticsStayOutsideAutograd) {
  Generator gen(7);
  auto x = random_tensor({2, 3, 4, 4}, gen).set_requires_grad();
  Params p = random_params(3, gen);
  p.gamma.set_requires_grad();
  const Tensor rm0 = p.running_mean.clone();
  Tensor y = batch_norm2d(x, p.gamma, p.beta, p.running_mean, p.running_var, true);
  EXPECT_FALSE(p.running_mean.requires_grad());
  EXPECT_FALSE(p.running_var.requires_grad());
  EXPECT_TRUE(p.running_mean.is_leaf());
  ASSERT_TRUE(y.grad_fn());
  EXPECT_EQ(y.grad_fn()->inputs.size(), 3u);  // x, gamma, beta
  EXPECT_NE(p.running_mean.to_vector(), rm0.to_vector());

  // Under no_grad, training still updates the statistics (as torch) and records nothing.
  const std::vector<double> before = p.running_mean.to_vector();
  NoGradGuard no_grad;
  Tensor z = batch_norm2d(x, p.gamma, p.beta, p.running_mean, p.running_var, true);
  EXPECT_FALSE(z.requires_grad());
  EXPECT_NE(p.running_mean.to_vector(), before);
}

TEST(BatchNorm, ResultsDoNotDependOnTheThreadCount) {
  Generator gen(8);
  auto x = random_tensor({8, 24, 16, 16}, gen, DType::F32).set_requires_grad();
  auto dy = random_tensor({8, 24, 16, 16}, gen, DType::F32);
  Params p = random_params(24, gen, DType::F32);
  auto run = [&](int threads) {
    const int saved = num_threads();
    set_num_threads(threads);
    x.set_grad(Tensor());
    Tensor rm = p.running_mean.clone(), rv = p.running_var.clone();
    Tensor y = batch_norm2d(x, p.gamma, p.beta, rm, rv, true);
    y.backward(dy);
    set_num_threads(saved);
    std::vector<double> all = y.to_vector();
    for (const Tensor& t : {x.grad(), rm, rv})
      for (double v : t.to_vector()) all.push_back(v);
    return all;
  };
  EXPECT_EQ(run(1), run(3));
}

TEST(BatchNorm, RejectsBadInputsWithClearErrors) {
  Generator gen(9);
  Params p = random_params(3, gen, DType::F32);
  auto x = random_tensor({2, 3, 4, 4}, gen, DType::F32);
  expect_error_mentioning(
      [&] {
        batch_norm2d(random_tensor({2, 3, 4}, gen, DType::F32), p.gamma, p.beta, p.running_mean, p.running_var, true);
      },
      {"batch_norm2d", "4 dimensions", "[2, 3, 4]"});
  Tensor wrong = Tensor::ones({4});
  expect_error_mentioning([&] { batch_norm2d(x, wrong, p.beta, p.running_mean, p.running_var, true); },
                          {"batch_norm2d", "weight", "[4]", "[3]"});
  expect_error_mentioning([&] { batch_norm2d(x, p.gamma, p.beta, wrong, p.running_var, false); },
                          {"running_mean", "[4]"});
  expect_error_mentioning([&] { batch_norm2d(x, p.gamma.to(DType::F64), p.beta, p.running_mean, p.running_var, true); },
                          {"weight", "float64", "float32"});
  auto single = random_tensor({1, 3, 1, 1}, gen, DType::F32);
  expect_error_mentioning([&] { batch_norm2d(single, p.gamma, p.beta, p.running_mean, p.running_var, true); },
                          {"more than 1 value per channel", "[1, 3, 1, 1]"});
  // One value per channel is fine in evaluation.
  EXPECT_NO_THROW(batch_norm2d(single, p.gamma, p.beta, p.running_mean, p.running_var, false));
}

}  // namespace
