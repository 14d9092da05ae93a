// conv2d_relu (the fused op of folded inference) against its composition
// relu(conv2d(...)) on every conv path; its finite differences run from the op
// registry (tests/ops/conv.cpp).
#include "gradcheck.h"

#include <cmath>

using namespace cxr;
using cxr::testing::random_tensor;

namespace {

struct Case {
  Shape x, w;
  Conv2dOptions opt;
};

// Pointwise, depthwise (strides 1 and 2, odd sizes) and the general im2col path.
const std::vector<Case> kCases = {
    {{2, 5, 7, 9}, {6, 5, 1, 1}, {1, 0, 1}},  {{2, 6, 9, 7}, {6, 1, 3, 3}, {1, 1, 6}},
    {{1, 3, 11, 8}, {3, 1, 3, 3}, {2, 1, 3}}, {{2, 1, 13, 13}, {4, 1, 3, 3}, {2, 1, 1}},
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

}  // namespace
