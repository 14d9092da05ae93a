// The elementwise ops beyond the op registry's table (tests/ops/elementwise.cpp):
// gradient_reversal's bitwise forward and reversed gradient, relu's values, dropout's
// mask and scaling, exact sums, and the error messages.
#include "expect_error.h"
#include "gradcheck.h"

#include "base/parallel.h"

#include <cmath>
#include <cstring>

using namespace cxr;
using cxr::testing::expect_error_mentioning;
using cxr::testing::random_tensor;

namespace {

const std::vector<Shape> kShapes = {{1}, {7}, {2, 3, 5, 5}, {1, 1, 1, 1}, {3, 13}};

TEST(Elementwise, AddRejectsShapeMismatchNamingBothShapes) {
  auto a = Tensor::zeros({2, 3});
  auto b = Tensor::zeros({3, 2});
  try {
    add(a, b);
    FAIL() << "add accepted mismatched shapes";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("add"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("[2, 3]"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("[3, 2]"), std::string::npos);
  }
}

// Same bytes, so -0.0, denormals and infinities count too.
bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  const std::size_t size = dtype_size(a.dtype());
  const auto* pa = static_cast<const unsigned char*>(a.storage()->data()) + a.offset() * size;
  const auto* pb = static_cast<const unsigned char*>(b.storage()->data()) + b.offset() * size;
  return std::memcmp(pa, pb, static_cast<std::size_t>(a.numel()) * size) == 0;
}

TEST(Elementwise, GradientReversalForwardIsTheInputBitForBit) {
  Generator gen(19);
  for (DType dt : {DType::F32, DType::F64}) {
    for (const auto& s : kShapes) {
      auto x = random_tensor(s, gen, dt).set_requires_grad();
      const Tensor out = gradient_reversal(x, 0.7);
      EXPECT_TRUE(same_bits(out, x)) << x.str();
      // Its own storage and its own node: x keeps no grad_fn, writes to out never reach x.
      EXPECT_NE(out.storage(), x.storage());
      EXPECT_TRUE(x.is_leaf());
      ASSERT_TRUE(out.grad_fn());
      EXPECT_EQ(out.grad_fn()->op, "gradient_reversal");
    }
    const double tiny = dt == DType::F32 ? 1e-40 : 1e-310;  // denormal
    const auto x = Tensor::from_vector(std::vector<double>{-0.0, tiny, -INFINITY, 3.5}, {4}, dt);
    const Tensor out = gradient_reversal(x, 1.0);
    EXPECT_TRUE(same_bits(out, x));
    EXPECT_FALSE(out.requires_grad());  // nothing to reverse: no node
  }
}

TEST(Elementwise, GradientReversalGradientIsExactlyMinusLambdaTimesUpstream) {
  Generator gen(20);
  for (DType dt : {DType::F32, DType::F64})
    for (double lambda : {0.0, 0.3, 1.0, 2.75})
      for (const auto& s : kShapes) {
        auto x = random_tensor(s, gen, dt).set_requires_grad();
        const Tensor R = random_tensor(s, gen, dt);
        gradient_reversal(x, lambda).backward(R);
        // One product per element in the tensor's type, so the comparison is exact.
        for (std::int64_t i = 0; i < x.numel(); ++i) {
          const double want = dt == DType::F32
                                  ? static_cast<double>(static_cast<float>(R.at(i)) * static_cast<float>(-lambda))
                                  : R.at(i) * -lambda;
          ASSERT_EQ(x.grad().at(i), want) << x.str() << " lambda " << lambda << " element " << i;
        }
      }
}

TEST(Elementwise, GradientReversalIsMinusLambdaTimesTheFiniteDifferenceGradient) {
  // The forward is the identity, so central differences of sum(f(x) * R) give R, and
  // the backward must give -lambda times that: by design not the forward's derivative,
  // hence not expect_gradients_match. Tolerances as in gradcheck.h.
  Generator gen(21);
  const double lambda = 0.7, h = 1e-6;
  for (const auto& s : kShapes) {
    auto x = random_tensor(s, gen).set_requires_grad();
    const Tensor R = random_tensor(s, gen);
    gradient_reversal(x, lambda).backward(R);
    double* xd = x.data<double>();
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      NoGradGuard no_grad;
      const double saved = xd[i];
      xd[i] = saved + h;
      const double plus = cxr::testing::dot(gradient_reversal(x, lambda), R);
      xd[i] = saved - h;
      const double minus = cxr::testing::dot(gradient_reversal(x, lambda), R);
      xd[i] = saved;
      const double numeric = (plus - minus) / (2 * h);
      ASSERT_NEAR(x.grad().at(i), -lambda * numeric, 1e-6 + 1e-5 * std::abs(lambda * numeric)) << i;
    }
  }
}

TEST(Elementwise, GradientReversalReversesOnlyTheBranchThroughIt) {
  // Domain-adversarial shape: features f = 2x feed a task head sum(f) directly and a
  // domain head sum(3 * GRL(f)). d/dx = 2 * (1 + 3 * -lambda): small integers and
  // halves, exact in float64.
  Generator gen(22);
  auto x = random_tensor({3, 4}, gen).set_requires_grad();
  const Tensor features = mul_scalar(x, 2.0);
  add(sum(features), sum(mul_scalar(gradient_reversal(features, 0.5), 3.0))).backward();
  for (std::int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(x.grad().at(i), 2 * (1 + 3 * -0.5));
}

TEST(Elementwise, GradientReversalRejectsNegativeOrNonFiniteLambda) {
  const Tensor x = Tensor::zeros({2, 3});
  expect_error_mentioning([&] { gradient_reversal(x, -0.5); }, {"gradient_reversal", "lambda", "-0.5"});
  expect_error_mentioning([&] { gradient_reversal(x, NAN); }, {"gradient_reversal", "lambda", "nan"});
  expect_error_mentioning([&] { gradient_reversal(x, INFINITY); }, {"gradient_reversal", "lambda", "inf"});
}

TEST(Elementwise, ReluForwardValues) {
  auto x = Tensor::from_vector(std::vector<double>{-2, -0.0, 0.5, 3}, {4}, DType::F32);
  EXPECT_EQ(relu(x).to_vector(), (std::vector<double>{0, 0, 0.5, 3}));
}

TEST(Elementwise, DropoutIsSeededScaledAndThreadIndependent) {
  Generator data_gen(14);
  auto x = random_tensor({4, 8, 16, 16}, data_gen, DType::F32, 1.0, 2.0);
  const double p = 0.3;
  Generator g1(99), g2(99);
  Tensor a = dropout(x, p, true, g1);
  const int threads = num_threads();
  set_num_threads(1);
  Tensor b = dropout(x, p, true, g2);
  set_num_threads(threads);
  EXPECT_EQ(a.to_vector(), b.to_vector());  // same seed, any thread count: same mask

  std::int64_t zeros = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    if (a.at(i) == 0) {
      ++zeros;
    } else {
      EXPECT_FLOAT_EQ(a.at(i), x.at(i) / (1 - p));
    }
  }
  // 8192 Bernoulli(0.3) draws: mean 2458, sd 41; 6 sd either side never fails by chance.
  EXPECT_NEAR(static_cast<double>(zeros), p * a.numel(), 6 * std::sqrt(a.numel() * p * (1 - p)));
  Generator g3(99);
  EXPECT_TRUE(dropout(x, p, false, g3).same(x));  // evaluation: identity
}

TEST(Reduction, SumIsExactOnSmallIntegers) {
  Generator gen(17);
  auto x = cxr::testing::random_int_tensor({100003}, gen, -3, 3);
  double expected = 0;
  for (std::int64_t i = 0; i < x.numel(); ++i) expected += x.at(i);
  EXPECT_EQ(sum(x).item(), expected);
}

TEST(Shape, ReshapeRejectsAShapeThatDoesNotDivide) {
  Generator gen(18);
  auto x = random_tensor({2, 3, 4, 5}, gen).set_requires_grad();
  EXPECT_THROW(reshape(x, {7, -1}), Error);
}

}  // namespace
