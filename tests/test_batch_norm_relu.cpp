// batch_norm_relu2d, the fused op, against its unfused composition
// relu(batch_norm2d(...)) (forward, running statistics, every gradient); its finite
// differences run from the op registry (tests/ops/normalisation.cpp).
#include "gradcheck.h"

#include <cmath>

using namespace cxr;
using cxr::testing::random_tensor;

namespace {

const std::vector<Shape> kShapes = {{2, 3, 4, 5}, {1, 5, 3, 3}, {4, 9, 1, 1}, {2, 2, 4, 8}, {3, 17, 7, 9}};

struct Result {
  std::vector<double> out, dx, dgamma, dbeta, running_mean, running_var;
};

Result run(const Tensor& x0, const Tensor& g0, const Tensor& b0, const Tensor& R, bool training, bool fused) {
  Tensor x = x0.clone().set_requires_grad();
  Tensor gamma = g0.clone().set_requires_grad();
  Tensor beta = b0.clone().set_requires_grad();
  const std::int64_t C = x.size(1);
  Tensor rm = Tensor::zeros({C}, x.dtype()), rv = Tensor::ones({C}, x.dtype());
  Tensor out = fused ? batch_norm_relu2d(x, gamma, beta, rm, rv, training)
                     : relu(batch_norm2d(x, gamma, beta, rm, rv, training));
  out.backward(R);
  return {out.to_vector(),         x.grad().to_vector(), gamma.grad().to_vector(),
          beta.grad().to_vector(), rm.to_vector(),       rv.to_vector()};
}

void expect_close(const std::vector<double>& a, const std::vector<double>& b, double atol, const char* what) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    ASSERT_NEAR(a[i], b[i], atol + 1e-5 * std::abs(b[i])) << what << " element " << i;
}

TEST(BatchNormRelu, FusedEqualsComposition) {
  Generator gen(31);
  for (DType dtype : {DType::F64, DType::F32}) {
    for (bool training : {true, false}) {
      for (const auto& s : kShapes) {
        const Tensor x = random_tensor(s, gen, dtype);
        const Tensor g = random_tensor({s[1]}, gen, dtype, 0.5, 1.5);
        const Tensor b = random_tensor({s[1]}, gen, dtype, -0.5, 0.5);
        const Tensor R = random_tensor(s, gen, dtype);
        const Result fused = run(x, g, b, R, training, true);
        const Result plain = run(x, g, b, R, training, false);
        // The forward and the statistics are the same arithmetic: identical.
        EXPECT_EQ(fused.out, plain.out);
        EXPECT_EQ(fused.running_mean, plain.running_mean);
        EXPECT_EQ(fused.running_var, plain.running_var);
        // The backward masks dy inside the sums instead of in a separate pass; the
        // float32 sums of products then round differently: a few ulps of the largest
        // gradient, far below 1e-4 at these magnitudes (|dx| <~ 10).
        const double atol = dtype == DType::F64 ? 1e-12 : 1e-4;
        expect_close(fused.dx, plain.dx, atol, "dx");
        expect_close(fused.dgamma, plain.dgamma, atol, "dgamma");
        expect_close(fused.dbeta, plain.dbeta, atol, "dbeta");
      }
    }
  }
}

}  // namespace
