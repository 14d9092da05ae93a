#include "gradcheck.h"

using namespace cxr;
using cxr::testing::random_tensor;

namespace {

Tensor scalar(double v) {
  return Tensor::full({}, v, DType::F64);
}

TEST(Autograd, GradientsAccumulateAcrossBackwardCalls) {
  auto x = Tensor::from_vector(std::vector<double>{1, 2, 3}, {3}, DType::F64).set_requires_grad();
  sum(mul_scalar(x, 2.0)).backward();
  sum(mul_scalar(x, 3.0)).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{5, 5, 5}));
}

TEST(Autograd, TensorUsedTwiceSumsBothPaths) {
  auto x = Tensor::from_vector(std::vector<double>{1, -2}, {2}, DType::F64).set_requires_grad();
  auto y = relu(x);
  sum(add(mul_scalar(y, 2.0), add(y, x))).backward();
  // d/dx [2 relu(x) + relu(x) + x] = 3 * [x > 0] + 1
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{4, 1}));
}

TEST(Autograd, SameTensorAsBothInputs) {
  auto x = Tensor::from_vector(std::vector<double>{1, 2}, {2}, DType::F64).set_requires_grad();
  sum(add(x, x)).backward();
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{2, 2}));
}

TEST(Autograd, NoGradRecordsNothing) {
  auto x = Tensor::ones({2}, DType::F64).set_requires_grad();
  Tensor y;
  {
    NoGradGuard guard;
    EXPECT_FALSE(grad_enabled());
    y = mul_scalar(x, 2.0);
  }
  EXPECT_TRUE(grad_enabled());
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(y.grad_fn(), nullptr);
  EXPECT_THROW(sum(y).backward(), Error);
}

TEST(Autograd, IntermediateGradientIsRetainedOnRequest) {
  auto x = Tensor::from_vector(std::vector<double>{1, 2, 3}, {3}, DType::F64).set_requires_grad();
  auto h = mul_scalar(x, 2.0);  // the "feature map"
  h.retain_grad();
  auto other = mul_scalar(x, 5.0);  // not retained
  sum(add(mul_scalar(h, 3.0), other)).backward();
  ASSERT_TRUE(h.grad().defined());
  EXPECT_EQ(h.grad().to_vector(), (std::vector<double>{3, 3, 3}));
  EXPECT_FALSE(other.grad().defined());
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{11, 11, 11}));
}

TEST(Autograd, BackwardWithExplicitSeedGradient) {
  auto x = Tensor::from_vector(std::vector<double>{1, 2}, {2}, DType::F64).set_requires_grad();
  auto y = mul_scalar(x, 4.0);
  y.backward(Tensor::from_vector(std::vector<double>{1, 0}, {2}, DType::F64));
  EXPECT_EQ(x.grad().to_vector(), (std::vector<double>{4, 0}));
}

TEST(Autograd, NonScalarBackwardNeedsASeed) {
  auto x = Tensor::ones({2}, DType::F64).set_requires_grad();
  EXPECT_THROW(mul_scalar(x, 2.0).backward(), Error);
}

TEST(Autograd, GraphIsReleasedAfterBackward) {
  auto x = Tensor::ones({2}, DType::F64).set_requires_grad();
  auto loss = sum(mul_scalar(x, 2.0));
  loss.backward();
  EXPECT_THROW(loss.backward(), Error);
}

TEST(Autograd, DeepChainDoesNotOverflowTheStack) {
  auto x = scalar(1.0).set_requires_grad();
  Tensor y = x;
  for (int i = 0; i < 100000; ++i) y = mul_scalar(y, 1.0);
  y.backward();
  EXPECT_EQ(x.grad().item(), 1.0);
}

}  // namespace

namespace {

TEST(Autograd, GradientsWithRespectToAnIntermediateTouchNoGrad) {
  auto x = Tensor::from_vector(std::vector<double>{1, -2, 3}, {3}, DType::F64).set_requires_grad();
  auto h = mul_scalar(x, 2.0);
  auto y = add(relu(h), mul_scalar(h, 0.5));
  auto seed = Tensor::from_vector(std::vector<double>{1, 1, 2}, {3}, DType::F64);
  const auto g = gradients(y, seed, {h});
  ASSERT_EQ(g.size(), 1u);
  // dy/dh = [h > 0] + 0.5, times the seed.
  EXPECT_EQ(g[0].to_vector(), (std::vector<double>{1.5, 0.5, 3.0}));
  EXPECT_FALSE(x.grad().defined());  // the leaf was not touched
  EXPECT_FALSE(h.grad().defined());
}

TEST(Autograd, GradientsOfAnUnreachedTensorAreZero) {
  auto x = Tensor::ones({2}, DType::F64).set_requires_grad();
  auto unrelated = Tensor::ones({3}, DType::F64).set_requires_grad();
  auto y = mul_scalar(x, 3.0);
  const auto g = gradients(y, Tensor::ones({2}, DType::F64), {unrelated, x});
  EXPECT_EQ(g[0].to_vector(), (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(g[1].to_vector(), (std::vector<double>{3, 3}));
}

}  // namespace
