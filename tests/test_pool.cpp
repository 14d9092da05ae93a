// max_pool2d, avg_pool2d, global_avg_pool2d beyond the op registry's table
// (tests/ops/pool.cpp): forward values against a plain reference (an explicitly padded
// copy of the input) and hand-computed values, tie-breaking and NaN propagation as in
// PyTorch, and the error messages.
#include "expect_error.h"
#include "gradcheck.h"

#include <cmath>
#include <limits>
#include <numeric>
#include <string>

using namespace cxr;
using cxr::testing::expect_error_mentioning;
using cxr::testing::random_tensor;

namespace {

struct Case {
  Shape shape;
  int kernel, stride, padding;
};

// Odd inputs with stride 2, 1x1 maps, batch 1, channels not a multiple of 8,
// windows that overlap (stride < kernel), tile exactly, or skip pixels (stride > kernel).
const std::vector<Case> kCases = {{{2, 3, 5, 5}, 3, 2, 1}, {{1, 1, 1, 1}, 1, 1, 0}, {{1, 2, 7, 6}, 2, 2, 0},
                                  {{2, 9, 4, 5}, 3, 1, 1}, {{1, 3, 7, 7}, 3, 3, 1}, {{3, 1, 6, 9}, 2, 3, 1},
                                  {{1, 1, 3, 3}, 3, 1, 0}};

// The textbook definition: copy x into a map padded with `fill`, then take each
// window's max or mean over all k*k entries.
std::vector<double> reference_pool(const Tensor& x, const Case& c, bool max) {
  const std::int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const std::int64_t p = c.padding, PH = H + 2 * p, PW = W + 2 * p;
  const std::int64_t OH = (PH - c.kernel) / c.stride + 1, OW = (PW - c.kernel) / c.stride + 1;
  const double fill = max ? -std::numeric_limits<double>::infinity() : 0.0;
  std::vector<double> out;
  for (std::int64_t m = 0; m < N * C; ++m) {
    std::vector<double> padded(static_cast<std::size_t>(PH * PW), fill);
    for (std::int64_t h = 0; h < H; ++h)
      for (std::int64_t w = 0; w < W; ++w) padded[(h + p) * PW + w + p] = x.at((m * H + h) * W + w);
    for (std::int64_t oh = 0; oh < OH; ++oh)
      for (std::int64_t ow = 0; ow < OW; ++ow) {
        double acc = fill;
        for (int i = 0; i < c.kernel; ++i)
          for (int j = 0; j < c.kernel; ++j) {
            const double v = padded[(oh * c.stride + i) * PW + ow * c.stride + j];
            acc = max ? std::max(acc, v) : acc + v;
          }
        out.push_back(max ? acc : acc / (c.kernel * c.kernel));
      }
  }
  return out;
}

TEST(MaxPool, MatchesThePaddedReference) {
  Generator gen(2);
  for (const auto& c : kCases) {
    // All negative, so a padding treated as 0 instead of -inf would win somewhere.
    auto x = random_tensor(c.shape, gen, DType::F32, -5.0, -1.0);
    const Tensor out = max_pool2d(x, c.kernel, c.stride, c.padding);
    EXPECT_EQ(out.to_vector(), reference_pool(x, c, true)) << shape_str(c.shape);
  }
}

TEST(MaxPool, HandComputedValuesAndShape) {
  std::vector<double> v(16);
  std::iota(v.begin(), v.end(), 0.0);
  auto x = Tensor::from_vector(v, {1, 1, 4, 4}, DType::F32);
  const Tensor out = max_pool2d(x, 2, 2);
  EXPECT_EQ(out.shape(), (Shape{1, 1, 2, 2}));
  EXPECT_EQ(out.to_vector(), (std::vector<double>{5, 7, 13, 15}));
  // 3x3 stride 2 padding 1 on 4x4: windows centred on rows/cols 0 and 2.
  EXPECT_EQ(max_pool2d(x, 3, 2, 1).to_vector(), (std::vector<double>{5, 7, 13, 15}));
}

TEST(MaxPool, TiesGoToTheFirstMaximumInRowMajorOrder) {
  // [[1, 3, 3], [0, 3, 0]], 2x2 windows, stride 1: both windows' first maximum is (0, 1).
  auto x = Tensor::from_vector(std::vector<double>{1, 3, 3, 0, 3, 0}, {1, 1, 2, 3}, DType::F64).set_requires_grad();
  Tensor out = max_pool2d(x, 2, 1);
  out.backward(Tensor::from_vector(std::vector<double>{10, 100}, {1, 1, 1, 2}, DType::F64));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{0, 110, 0, 0, 0, 0}));
}

TEST(MaxPool, NaNPropagatesAndReceivesTheGradient) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto x = Tensor::from_vector(std::vector<double>{1, nan, 5, 2}, {1, 1, 2, 2}, DType::F64).set_requires_grad();
  Tensor out = max_pool2d(x, 2, 2);
  EXPECT_TRUE(std::isnan(out.item()));
  out.backward(Tensor::ones({1, 1, 1, 1}, DType::F64));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{0, 1, 0, 0}));
}

TEST(AvgPool, MatchesThePaddedReference) {
  Generator gen(4);
  for (const auto& c : kCases) {
    auto x = random_tensor(c.shape, gen, DType::F64);
    const auto out = avg_pool2d(x, c.kernel, c.stride, c.padding).to_vector();
    const auto ref = reference_pool(x, c, false);
    ASSERT_EQ(out.size(), ref.size());
    // float64 sums of <= 9 terms of O(1) in another order: a few ulps.
    for (std::size_t i = 0; i < ref.size(); ++i) EXPECT_NEAR(out[i], ref[i], 1e-15 + 1e-15 * std::abs(ref[i]));
  }
}

TEST(AvgPool, PaddingCountsAsZeros) {
  // Ones, 3x3 kernel, stride 1, padding 1: corners see 4 of 9 real pixels, edges 6, centre 9.
  const auto out = avg_pool2d(Tensor::ones({1, 1, 3, 3}), 3, 1, 1).to_vector();
  const std::vector<double> want = {4. / 9, 6. / 9, 4. / 9, 6. / 9, 1, 6. / 9, 4. / 9, 6. / 9, 4. / 9};
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(out[i], want[i], 1e-7) << i;  // float32
}

TEST(GlobalAvgPool, Values) {
  Generator gen(5);
  // Small integers in float32: the double sum is exact and HW = 4 divides exactly.
  auto x = cxr::testing::random_int_tensor({3, 5, 2, 2}, gen, -8, 8);
  const Tensor out = global_avg_pool2d(x);
  EXPECT_EQ(out.shape(), (Shape{3, 5}));
  for (std::int64_t m = 0; m < 15; ++m)
    EXPECT_EQ(out.at(m), (x.at(4 * m) + x.at(4 * m + 1) + x.at(4 * m + 2) + x.at(4 * m + 3)) / 4);
}

TEST(Pool, RejectsBadWindowsWithClearErrors) {
  auto x = Tensor::zeros({1, 2, 4, 4});
  expect_error_mentioning([&] { max_pool2d(x, 3, 1, 2); }, {"max_pool2d", "padding 2", "kernel 3"});
  expect_error_mentioning([&] { avg_pool2d(x, 2, 1, 2); }, {"avg_pool2d", "padding 2"});
  expect_error_mentioning([&] { max_pool2d(x, 5, 1, 0); }, {"max_pool2d", "kernel 5", "[1, 2, 4, 4]"});
  expect_error_mentioning([&] { avg_pool2d(x, 2, 0, 0); }, {"avg_pool2d", "stride 0"});
  expect_error_mentioning([&] { max_pool2d(Tensor::zeros({2, 4, 4}), 2, 2); }, {"max_pool2d", "4 dimensions"});
  expect_error_mentioning([&] { global_avg_pool2d(Tensor::zeros({2, 4})); }, {"global_avg_pool2d", "[2, 4]"});
}

}  // namespace
