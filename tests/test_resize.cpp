// resize_bilinear beyond the op registry's table (tests/ops/resampling.cpp): forward
// values against the direct four-tap formula, hand-computed values and values printed
// by PyTorch 1.13, the gradient's conservation, and the error messages.
#include "gradcheck.h"

#include <algorithm>
#include <cmath>
#include <string>

using namespace cxr;
using cxr::testing::random_tensor;

namespace {

struct Case {
  Shape shape;
  int out_h, out_w;
};

const std::vector<Case> kCases = {
    {{2, 3, 3, 4}, 7, 5},  // upsampling by non-integer factors
    {{1, 2, 7, 6}, 3, 4},  // downsampling
    {{1, 1, 1, 1}, 3, 2},  // a single pixel spreads everywhere
    {{2, 1, 5, 5}, 5, 5},  // same size: identity
    {{1, 3, 2, 3}, 1, 1},  // down to one pixel
    {{1, 9, 4, 5}, 9, 2},  // up in one direction, down in the other
    {{1, 1, 7, 7}, 16, 16},
};

// The direct definition: each output pixel blends four input pixels, with the
// source coordinate max(0, (o + 0.5) * in / out - 0.5), all in double.
std::vector<double> reference_resize(const Tensor& x, int OH, int OW) {
  const std::int64_t maps = x.size(0) * x.size(1), H = x.size(2), W = x.size(3);
  auto source = [](std::int64_t o, std::int64_t in, std::int64_t out, std::int64_t* i0, std::int64_t* i1, double* f) {
    const double src = std::max(0.0, (o + 0.5) * static_cast<double>(in) / out - 0.5);
    *i0 = static_cast<std::int64_t>(src);
    *i1 = std::min(*i0 + 1, in - 1);
    *f = src - *i0;
  };
  std::vector<double> out;
  for (std::int64_t m = 0; m < maps; ++m)
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow) {
        std::int64_t h0, h1, w0, w1;
        double fh, fw;
        source(oh, H, OH, &h0, &h1, &fh);
        source(ow, W, OW, &w0, &w1, &fw);
        auto at = [&](std::int64_t h, std::int64_t w) {
          return x.at((m * H + h) * W + w);
        };
        out.push_back((1 - fh) * ((1 - fw) * at(h0, w0) + fw * at(h0, w1)) +
                      fh * ((1 - fw) * at(h1, w0) + fw * at(h1, w1)));
      }
  return out;
}

TEST(Resize, MatchesTheFourTapFormula) {
  Generator gen(2);
  std::vector<Case> cases = kCases;
  cases.push_back({{1, 1, 7, 7}, 224, 224});  // Grad-CAM's upsampling
  cases.push_back({{2, 1, 224, 224}, 7, 7});
  for (const auto& c : cases) {
    for (DType dtype : {DType::F64, DType::F32}) {
      auto x = random_tensor(c.shape, gen, dtype);
      const auto out = resize_bilinear(x, c.out_h, c.out_w).to_vector();
      const auto ref = reference_resize(x, c.out_h, c.out_w);
      ASSERT_EQ(out.size(), ref.size());
      // The kernel rounds the source coordinate (up to max(H, W)) in T, in another
      // order: its weights differ by a few ulps of that coordinate, times neighbour
      // differences of at most 2.
      const double ulp = dtype == DType::F64 ? 0x1p-52 : 0x1p-23;
      const double tol = 8 * ulp * static_cast<double>(std::max(c.shape[2], c.shape[3]));
      for (std::size_t i = 0; i < ref.size(); ++i)
        ASSERT_NEAR(out[i], ref[i], tol) << shape_str(c.shape) << " -> " << c.out_h << "x" << c.out_w << " at " << i;
    }
  }
}

TEST(Resize, MatchesValuesPrintedByPyTorch) {
  // F.interpolate(arange(6).view(1,1,2,3), size, mode="bilinear", align_corners=False),
  // float64, torch 1.13. The first row and column clamp negative source coordinates to 0.
  auto x = Tensor::from_vector(std::vector<double>{0, 1, 2, 3, 4, 5}, {1, 1, 2, 3}, DType::F64);
  const std::vector<double> up = {0.0,
                                  0.39999999999999997,
                                  1.0,
                                  1.5999999999999999,
                                  2.0,
                                  1.4999999999999998,
                                  1.8999999999999997,
                                  2.5,
                                  3.0999999999999996,
                                  3.4999999999999996,
                                  3.0,
                                  3.4000000000000004,
                                  4.0,
                                  4.6,
                                  4.999999999999999};
  const auto out = resize_bilinear(x, 3, 5).to_vector();
  for (std::size_t i = 0; i < up.size(); ++i) EXPECT_NEAR(out[i], up[i], 1e-15 * 8) << i;  // ulps of <= 5
  EXPECT_EQ(resize_bilinear(x, 1, 2).to_vector(), (std::vector<double>{1.75, 3.25}));
}

TEST(Resize, HandComputedValues) {
  // [0, 1] to width 4: sources -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to the edge).
  auto row = Tensor::from_vector(std::vector<double>{0, 1}, {1, 1, 1, 2}, DType::F32);
  EXPECT_EQ(resize_bilinear(row, 1, 4).to_vector(), (std::vector<double>{0, 0.25, 0.75, 1}));
  // Halving samples at 0.5 and 2.5: the mean of each 2x2 block (exact for small integers).
  Generator gen(3);
  auto x = cxr::testing::random_int_tensor({2, 3, 4, 4}, gen, -5, 5);
  const Tensor half = resize_bilinear(x, 2, 2);
  for (std::int64_t m = 0; m < 6; ++m)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) {
        auto at = [&](int h, int w) {
          return x.at(m * 16 + h * 4 + w);
        };
        const double mean =
            (at(2 * i, 2 * j) + at(2 * i, 2 * j + 1) + at(2 * i + 1, 2 * j) + at(2 * i + 1, 2 * j + 1)) / 4;
        EXPECT_EQ(half.at(m * 4 + i * 2 + j), mean);
      }
  // Same size is the identity, bit for bit.
  EXPECT_EQ(resize_bilinear(x, 4, 4).to_vector(), x.to_vector());
}

TEST(Resize, BackwardConservesTheGradientSum) {
  // The weights of every output pixel sum to 1, so sum(dx) = sum(dy).
  Generator gen(4);
  auto x = random_tensor({2, 2, 5, 3}, gen).set_requires_grad();
  auto dy = random_tensor({2, 2, 8, 11}, gen);
  resize_bilinear(x, 8, 11).backward(dy);
  double sum_dx = 0, sum_dy = 0;
  for (std::int64_t i = 0; i < x.numel(); ++i) sum_dx += x.grad().at(i);
  for (std::int64_t i = 0; i < dy.numel(); ++i) sum_dy += dy.at(i);
  EXPECT_NEAR(sum_dx, sum_dy, 1e-12);  // float64 sums of 352 O(1) terms
}

TEST(Resize, RejectsBadSizesWithClearErrors) {
  auto x = Tensor::zeros({1, 1, 4, 4});
  for (auto [h, w] : {std::pair{0, 4}, std::pair{4, -1}}) {
    try {
      resize_bilinear(x, h, w);
      FAIL() << "accepted " << h << "x" << w;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("resize_bilinear"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(std::to_string(h) + "x" + std::to_string(w)), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(resize_bilinear(Tensor::zeros({4, 4}), 2, 2), Error);
}

}  // namespace
