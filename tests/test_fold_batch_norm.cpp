// Folded inference (batch norm folded into the convolution, ReLU fused) computes
// the same network as the unfolded evaluation path.
#include "gradcheck.h"

#include "engine/nn/fold_batch_norm.h"
#include "models/depthwise_net.h"

#include <cmath>

using namespace cxr;
using cxr::testing::random_tensor;

namespace {

// Gives batch norm non-trivial running statistics and affine parameters.
void randomise_buffers(ParameterSet& params, Generator& gen) {
  for (const auto& e : params.buffers()) {
    Tensor t = e.tensor;
    const bool is_var = e.name.find("running_var") != std::string::npos;
    for (std::int64_t i = 0; i < t.numel(); ++i)
      t.data<double>()[i] = is_var ? gen.uniform(0.5, 2.0) : gen.uniform(-0.5, 0.5);
  }
  for (const auto& e : params.parameters()) {
    if (e.name.find("bn") == std::string::npos) continue;
    Tensor t = e.tensor;
    for (std::int64_t i = 0; i < t.numel(); ++i) t.data<double>()[i] = gen.uniform(0.5, 1.5);
  }
}

TEST(FoldBatchNorm, FoldedConvEqualsConvThenEvalBatchNorm) {
  Generator gen(51);
  Conv2d conv(4, 6, 3, 2, 1, 1, true);
  BatchNorm2d bn(6);
  ParameterSet pc(conv, 1, DType::F64), pb(bn, 2, DType::F64);
  randomise_buffers(pb, gen);
  for (std::int64_t i = 0; i < 6; ++i) conv.bias.data<double>()[i] = gen.uniform(-1, 1);
  bn.eval();
  const Tensor x = random_tensor({2, 4, 9, 7}, gen);
  NoGradGuard no_grad;
  const FoldedConv2d f = fold_batch_norm(conv, bn);
  const Tensor folded = conv2d(x, f.weight, f.bias, f.options);
  const Tensor plain = bn.forward(conv.forward(x));
  for (std::int64_t i = 0; i < plain.numel(); ++i)
    ASSERT_NEAR(folded.at(i), plain.at(i), 1e-12 + 1e-12 * std::abs(plain.at(i)));  // float64 rounding
}

TEST(FoldBatchNorm, NetInferenceMatchesTheUnfoldedEvaluationPath) {
  for (DType dtype : {DType::F64, DType::F32}) {
    NetConfig config = NetConfig::cxr_small().narrowed(0.25);
    DepthwiseSeparableNet net(config, 1);
    ParameterSet params(net, 2, DType::F64);
    Generator gen(52);
    randomise_buffers(params, gen);
    if (dtype == DType::F32) {
      // Same values in float32: rebind through a float32 set and copy.
      DepthwiseSeparableNet net32(config, 1);
      ParameterSet p32(net32, 2, DType::F32);
      p32.values().copy_(params.values());
      p32.buffer_values().copy_(params.buffer_values());
      net32.eval();
      const Tensor x = random_tensor({2, 1, 40, 40}, gen, DType::F32);
      Tensor folded, plain;
      {
        NoGradGuard no_grad;  // the folded path
        folded = net32.forward(x);
      }
      plain = net32.forward(x);  // grad mode on: the unfolded path
      // float32 through 17 layers with different rounding order: relative 1e-4 of the
      // logit scale is ~100 ulps, far above the expected drift, far below any real error.
      double scale = 0;
      for (std::int64_t i = 0; i < plain.numel(); ++i) scale = std::max(scale, std::abs(plain.at(i)));
      for (std::int64_t i = 0; i < plain.numel(); ++i)
        EXPECT_NEAR(folded.at(i), plain.at(i), 1e-4 * scale) << "float32 logit " << i;
      continue;
    }
    net.eval();
    const Tensor x = random_tensor({2, 1, 40, 40}, gen);
    Tensor folded, plain;
    {
      NoGradGuard no_grad;
      folded = net.forward(x);
    }
    plain = net.forward(x);
    for (std::int64_t i = 0; i < plain.numel(); ++i)
      EXPECT_NEAR(folded.at(i), plain.at(i), 1e-10 * (1 + std::abs(plain.at(i)))) << "logit " << i;
  }
}

}  // namespace
