// linear beyond the op registry's table (tests/ops/conv.cpp, where its finite
// differences live): float32 against the reference GEMM, shape errors.
#include "gradcheck.h"

#include "kernels/cpu/gemm.h"

#include <string>

using namespace cxr;
using cxr::testing::random_int_tensor;
using cxr::testing::random_tensor;

namespace {

struct LinearCase {
  std::int64_t N, in, out;
  bool bias;
};

TEST(Linear, InputThatNeedsNoGradientGetsNone) {
  Generator gen(42);
  auto x = random_tensor({3, 5}, gen);
  auto w = random_tensor({2, 5}, gen).set_requires_grad();
  Tensor y = linear(x, w, Tensor());
  y.backward(Tensor::ones(y.shape(), y.dtype()));
  EXPECT_FALSE(x.grad().defined());
  EXPECT_TRUE(w.grad().defined());
}

// Small integers: every sum is an exact integer in float32, so the GEMM-based
// forward and backward must equal the reference loops exactly (the head's
// 512 -> 4 shape at batch 32, and an odd one).
TEST(Linear, Float32MatchesTheReferenceExactlyOnSmallIntegers) {
  Generator gen(43);
  for (const LinearCase& c : {LinearCase{32, 512, 4, true}, LinearCase{7, 130, 19, true}}) {
    auto x = random_int_tensor({c.N, c.in}, gen, -2, 2).set_requires_grad();
    auto w = random_int_tensor({c.out, c.in}, gen, -2, 2).set_requires_grad();
    auto b = random_int_tensor({c.out}, gen, -2, 2).set_requires_grad();
    auto dy = random_int_tensor({c.N, c.out}, gen, -2, 2);
    Tensor y = linear(x, w, b);
    y.backward(dy);

    std::vector<float> y_ref(static_cast<std::size_t>(c.N * c.out)), dx_ref(static_cast<std::size_t>(c.N * c.in));
    std::vector<float> dw_ref(static_cast<std::size_t>(c.out * c.in)), db_ref(static_cast<std::size_t>(c.out), 0);
    for (std::int64_t i = 0; i < c.N; ++i)
      for (std::int64_t j = 0; j < c.out; ++j) y_ref[i * c.out + j] = b.data<float>()[j];
    cpu::gemm_reference<float>(false, true, c.N, c.out, c.in, 1, x.data<float>(), c.in, w.data<float>(), c.in, 1,
                               y_ref.data(), c.out);
    cpu::gemm_reference<float>(false, false, c.N, c.in, c.out, 1, dy.data<float>(), c.out, w.data<float>(), c.in, 0,
                               dx_ref.data(), c.in);
    cpu::gemm_reference<float>(true, false, c.out, c.in, c.N, 1, dy.data<float>(), c.out, x.data<float>(), c.in, 0,
                               dw_ref.data(), c.in);
    for (std::int64_t i = 0; i < c.N; ++i)
      for (std::int64_t j = 0; j < c.out; ++j) db_ref[j] += dy.data<float>()[i * c.out + j];

    auto as_floats = [](const Tensor& t) {
      return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
    };
    EXPECT_EQ(as_floats(y), y_ref);
    EXPECT_EQ(as_floats(x.grad()), dx_ref);
    EXPECT_EQ(as_floats(w.grad()), dw_ref);
    EXPECT_EQ(as_floats(b.grad()), db_ref);
  }
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Linear, ShapeErrorsNameTheOpAndTheShapes) {
  const Tensor x = Tensor::zeros({32, 512});
  EXPECT_EQ(error_of([&] {
              linear(x, Tensor::zeros({4, 256}), Tensor());
            }),
            "linear: input has 512 features, weight expects 256 (input [32, 512], weight [4, 256])");
  EXPECT_EQ(error_of([&] {
              linear(x, Tensor::zeros({4, 512}), Tensor::zeros({3}));
            }),
            "linear: bias has 3 elements, weight has 4 outputs (bias [3], weight [4, 512])");
  EXPECT_EQ(error_of([&] {
              linear(Tensor::zeros({32, 512, 1, 1}), Tensor::zeros({4, 512}), Tensor());
            }),
            "linear: input must have 2 dimensions, got [32, 512, 1, 1]");
  EXPECT_EQ(error_of([&] {
              linear(x, Tensor::zeros({4, 512}, DType::F64), Tensor());
            }),
            "linear: weight is float64[4, 512] on cpu but the input is float32[32, 512] on cpu");
}

}  // namespace
