// conv2d_relu (the fused op of folded inference) against its composition
// relu(conv2d(...)) on every conv path, and against finite differences.
#include "gradcheck.h"

#include <cmath>

using namespace cxr;
using cxr::testing::expect_gradients_match;
using cxr::testing::random_tensor;

namespace {

struct Case {
  Shape x, w;
  Conv2dOptions opt;
};

// Pointwise, depthwise (strides 1 and 2, odd sizes) and the general im2col path.
const std::vector<Case> kCases = {
    {{2, 5, 7, 9}, {6, 5, 1, 1}, {1, 0, 1}},
    {{2, 6, 9, 7}, {6, 1, 3, 3}, {1, 1, 6}},
    {{1, 3, 11, 8}, {3, 1, 3, 3}, {2, 1, 3}},
    {{2, 1, 13, 13}, {4, 1, 3, 3}, {2, 1, 1}},
    {{1, 4, 5, 6}, {6, 2, 3, 3}, {1, 1, 2}},
};

TEST(ConvRelu, FusedForwardEqualsComposition) {
  Generator gen(41);
  for (DType dtype : {DType::F32, DType::F64}) {
    for (const auto& c : kCases) {
      const Tensor x = random_tensor(c.x, gen, dtype);
      const Tensor w = random_tensor(c.w, gen, dtype);
      const Tensor b = random_tensor({c.w[0]}, gen, dtype);
      // The same convolution arithmetic, then the same max: bit-identical.
      EXPECT_EQ(conv2d_relu(x, w, b, c.opt).to_vector(), relu(conv2d(x, w, b, c.opt)).to_vector());
    }
  }
}

TEST(ConvRelu, GradientsMatchFiniteDifferences) {
  Generator gen(42);
  for (const auto& c : kCases) {
    auto x = random_tensor(c.x, gen).set_requires_grad();
    auto w = random_tensor(c.w, gen).set_requires_grad();
    auto b = random_tensor({c.w[0]}, gen).set_requires_grad();
    {
      // Keep pre-activations off the kink by more than the finite-difference step.
      NoGradGuard no_grad;
      const Tensor pre = conv2d(x, w, b, c.opt);
      double closest = 1e9;
      for (std::int64_t i = 0; i < pre.numel(); ++i) closest = std::min(closest, std::abs(pre.at(i)));
      ASSERT_GT(closest, 1e-5) << "redraw: a pre-activation sits on the ReLU kink";
    }
    expect_gradients_match(
        [&c](const std::vector<Tensor>& in) { return conv2d_relu(in[0], in[1], in[2], c.opt); },
        {x, w, b});
  }
}

}  // namespace
