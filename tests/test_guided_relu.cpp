// The guided ReLU backward rule (engine/relu_backward.h): relu, conv2d_relu and
// batch_norm_relu2d recorded inside a GuidedReluScope pass the gradient only where
// the output AND the incoming gradient are positive; outside it they are unchanged.
// The fused ops are checked against the unfused composition (op, then relu), the
// plain relu against the rule written out.
#include "random_tensors.h"

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/relu_backward.h"

#include <gtest/gtest.h>

#include <functional>
#include <thread>

using namespace cxr;
using cxr::testing::random_tensor;

namespace {

// d(sum(f(inputs) * seed))/d(inputs), recording f under `guided`.
std::vector<Tensor> grads_of(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs,
                             const Tensor& seed, bool guided) {
  for (Tensor& t : inputs) {
    t = t.clone();
    t.set_requires_grad(true);
  }
  EnableGradGuard record_graph;
  Tensor out;
  if (guided) {
    GuidedReluScope scope;
    out = f(inputs);
  } else {
    out = f(inputs);
  }
  return gradients(out, seed, inputs);
}

// The fused and unfused backward sum the same float64 products in another order:
// ~1e-15 relative to terms of size ~1; 1e-12 still catches a single wrong mask bit.
void expect_near(const Tensor& got, const Tensor& want, double tol = 1e-12) {
  ASSERT_EQ(got.numel(), want.numel());
  for (std::int64_t i = 0; i < got.numel(); ++i) ASSERT_NEAR(got.at(i), want.at(i), tol) << "element " << i;
}

TEST(GuidedRelu, ExactIsTheDefaultAndTheScopeRestoresIt) {
  EXPECT_EQ(relu_backward_rule(), ReluBackward::exact);
  {
    GuidedReluScope outer;
    EXPECT_EQ(relu_backward_rule(), ReluBackward::guided);
    {
      GuidedReluScope inner;
      EXPECT_EQ(relu_backward_rule(), ReluBackward::guided);
    }
    EXPECT_EQ(relu_backward_rule(), ReluBackward::guided);
    ReluBackward other_thread = ReluBackward::guided;
    std::thread([&] { other_thread = relu_backward_rule(); }).join();
    EXPECT_EQ(other_thread, ReluBackward::exact) << "the rule is per thread";
  }
  EXPECT_EQ(relu_backward_rule(), ReluBackward::exact);
}

TEST(GuidedRelu, ReluPassesOnlyPositiveGradientsWherePositive) {
  Generator gen(1);
  const Tensor x = random_tensor({2, 3, 5, 5}, gen), seed = random_tensor({2, 3, 5, 5}, gen);
  const auto f = [](const std::vector<Tensor>& in) {
    return relu(in[0]);
  };
  const Tensor guided = grads_of(f, {x}, seed, true)[0];
  const Tensor exact = grads_of(f, {x}, seed, false)[0];
  int passed = 0, blocked_by_sign = 0;
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const bool open = x.at(i) > 0;
    EXPECT_EQ(exact.at(i), open ? seed.at(i) : 0.0) << i;
    EXPECT_EQ(guided.at(i), open && seed.at(i) > 0 ? seed.at(i) : 0.0) << i;
    passed += open && seed.at(i) > 0;
    blocked_by_sign += open && seed.at(i) < 0;
  }
  EXPECT_GT(passed, 10);
  EXPECT_GT(blocked_by_sign, 10) << "the inputs must exercise the guided rule's extra condition";
}

TEST(GuidedRelu, TheRuleIsFixedWhenTheOpRecords) {
  Generator gen(2);
  const Tensor x0 = random_tensor({40}, gen), seed = random_tensor({40}, gen);
  Tensor x = x0.clone();
  x.set_requires_grad(true);
  EnableGradGuard record_graph;
  const auto f = [](const std::vector<Tensor>& in) {
    return relu(in[0]);
  };
  const Tensor want_exact = grads_of(f, {x0}, seed, false)[0], want_guided = grads_of(f, {x0}, seed, true)[0];
  const Tensor exact_out = relu(x);
  Tensor guided_out;
  {
    GuidedReluScope scope;
    guided_out = relu(x);
    expect_near(gradients(exact_out, seed, {x})[0], want_exact);  // recorded outside, swept inside: exact
  }
  expect_near(gradients(guided_out, seed, {x})[0], want_guided);  // recorded inside, swept outside: guided
  EXPECT_NE(want_exact.to_vector(), want_guided.to_vector());
}

TEST(GuidedRelu, FusedConvReluEqualsConvThenRelu) {
  Generator gen(3);
  const Tensor x = random_tensor({2, 3, 7, 7}, gen), w = random_tensor({4, 3, 3, 3}, gen), b = random_tensor({4}, gen);
  const Tensor seed = random_tensor({2, 4, 7, 7}, gen);
  Conv2dOptions opt;
  opt.padding = 1;
  const auto fused = [&](const std::vector<Tensor>& in) {
    return conv2d_relu(in[0], in[1], in[2], opt);
  };
  const auto unfused = [&](const std::vector<Tensor>& in) {
    return relu(conv2d(in[0], in[1], in[2], opt));
  };
  for (bool guided : {true, false}) {
    SCOPED_TRACE(guided ? "guided" : "exact");
    const std::vector<Tensor> got = grads_of(fused, {x, w, b}, seed, guided);
    const std::vector<Tensor> want = grads_of(unfused, {x, w, b}, seed, guided);
    for (std::size_t i = 0; i < got.size(); ++i) expect_near(got[i], want[i]);
  }
  // And the guided rule changes the answer here (some positive outputs receive negative gradients).
  EXPECT_NE(grads_of(fused, {x, w, b}, seed, true)[0].to_vector(),
            grads_of(fused, {x, w, b}, seed, false)[0].to_vector());
}

TEST(GuidedRelu, FusedBatchNormReluEqualsBatchNormThenRelu) {
  Generator gen(4);
  const Tensor x = random_tensor({3, 4, 5, 5}, gen), gamma = random_tensor({4}, gen, DType::F64, 0.5, 1.5);
  const Tensor beta = random_tensor({4}, gen), seed = random_tensor({3, 4, 5, 5}, gen);
  const Tensor mean0 = random_tensor({4}, gen, DType::F64, -0.2, 0.2),
               var0 = random_tensor({4}, gen, DType::F64, 0.5, 1.5);
  for (bool training : {false, true})
    for (bool guided : {true, false}) {
      SCOPED_TRACE(fmt::format("training {} guided {}", training, guided));
      Tensor m1 = mean0.clone(), v1 = var0.clone(), m2 = mean0.clone(), v2 = var0.clone();
      const auto fused = [&](const std::vector<Tensor>& in) {
        return batch_norm_relu2d(in[0], in[1], in[2], m1, v1, training);
      };
      const auto unfused = [&](const std::vector<Tensor>& in) {
        return relu(batch_norm2d(in[0], in[1], in[2], m2, v2, training));
      };
      const std::vector<Tensor> got = grads_of(fused, {x, gamma, beta}, seed, guided);
      const std::vector<Tensor> want = grads_of(unfused, {x, gamma, beta}, seed, guided);
      for (std::size_t i = 0; i < got.size(); ++i) expect_near(got[i], want[i]);
    }
}

TEST(GuidedRelu, OtherOpsKeepTheirDerivative) {
  Generator gen(5);
  const Tensor x = random_tensor({30}, gen), seed = random_tensor({30}, gen);
  for (const auto& f : std::vector<std::function<Tensor(const std::vector<Tensor>&)>>{
           [](const std::vector<Tensor>& in) { return leaky_relu(in[0], 0.1); },
           [](const std::vector<Tensor>& in) {
             return tanh(in[0]);
           }})
    EXPECT_EQ(grads_of(f, {x}, seed, true)[0].to_vector(), grads_of(f, {x}, seed, false)[0].to_vector());
}

}  // namespace
