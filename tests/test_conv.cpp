// conv2d beyond the op registry's table (tests/ops/conv.cpp, where its finite
// differences on every path live): the fast float32 paths against the textbook
// reference, gradients that are not asked, determinism and shape errors.
#include "gradcheck.h"

#include "base/parallel.h"
#include "kernels/cpu/conv2d.h"
#include "kernels/cpu/depthwise_conv2d.h"
#include "kernels/cpu/pointwise_conv2d.h"

#include <cmath>
#include <string>

using namespace cxr;
using cxr::testing::expect_gradients_match;
using cxr::testing::random_int_tensor;
using cxr::testing::random_tensor;

namespace {

struct ConvCase {
  const char* name;
  std::int64_t N, C_in, H, W, C_out, K;
  int stride, padding, groups;
  bool bias;
};

Conv2dOptions options(const ConvCase& c) {
  return {c.stride, c.padding, c.groups};
}

TEST(Conv2d, InputThatNeedsNoGradientGetsNone) {
  Generator gen(22);
  auto x = random_tensor({2, 1, 7, 7}, gen);  // the stem's image
  auto w = random_tensor({4, 1, 3, 3}, gen).set_requires_grad();
  Tensor y = conv2d(x, w, Tensor(), {2, 1, 1});
  y.backward(Tensor::ones(y.shape(), y.dtype()));
  EXPECT_FALSE(x.grad().defined());
  ASSERT_TRUE(w.grad().defined());
  expect_gradients_match(
      [](const std::vector<Tensor>& in) {
        return conv2d(in[0], in[1], Tensor(), {2, 1, 1});
      },
      {x, w});
}

// ---- float32 fast paths against the reference ------------------------------------------

// Larger shapes, the real layer kinds at reduced size, and the awkward ones.
const std::vector<ConvCase> kParityCases = {
    {"stem 3x3 s2 1 -> 32", 2, 1, 23, 23, 32, 3, 2, 1, 1, false},
    {"depthwise s1", 2, 19, 14, 13, 19, 3, 1, 1, 19, true},
    {"depthwise s2", 3, 16, 15, 17, 16, 3, 2, 1, 16, false},
    {"depthwise s2 even input", 1, 8, 16, 16, 8, 3, 2, 1, 8, true},
    {"depthwise no padding", 2, 5, 9, 12, 5, 3, 1, 0, 5, true},
    {"depthwise s3 p2", 2, 6, 11, 10, 6, 3, 3, 2, 6, true},
    {"pointwise", 2, 37, 9, 11, 45, 1, 1, 0, 1, true},
    {"pointwise batch 1", 1, 64, 20, 20, 24, 1, 1, 0, 1, false},
    {"general 3x3", 2, 10, 9, 8, 13, 3, 1, 1, 1, true},
    {"grouped 3x3 s2", 2, 12, 11, 9, 9, 3, 2, 1, 3, true},
    {"5x5 s3 p2", 1, 7, 13, 12, 6, 5, 3, 2, 1, false},
};

Conv2dShape shape_of(const ConvCase& c) {
  return conv2d_shape(c.N, c.C_in, c.H, c.W, c.C_out, c.K, c.stride, c.padding, c.groups);
}

struct Buffers {
  Tensor x, w, b, dy;
};

Buffers make_buffers(const ConvCase& c, const Conv2dShape& s, Generator& gen, bool ints) {
  auto make = [&](const Shape& shape) {
    return ints ? random_int_tensor(shape, gen, -2, 2) : random_tensor(shape, gen, DType::F32);
  };
  return {make({c.N, c.C_in, c.H, c.W}), make({c.C_out, c.C_in / c.groups, c.K, c.K}), make({c.C_out}),
          make({c.N, c.C_out, s.H_out, s.W_out})};
}

std::vector<float> abs_copy(const Tensor& t) {
  std::vector<float> v(static_cast<std::size_t>(t.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::abs(t.data<float>()[i]);
  return v;
}

// Runs `path` forward and backward and compares with the reference. Small-integer
// data makes every partial sum an integer below 2^24, so the results must be
// equal. Random data: |fl(sum) - sum| <= gamma_n * sum |terms| with gamma_n ~ n u,
// u = 2^-24, n the number of terms (Higham 3.1); sum |terms| is the reference run
// on absolute values.
using ForwardFn = void (*)(float*, const float*, const float*, const float*, const Conv2dShape&, bool);
using BackwardFn = void (*)(float*, float*, float*, const float*, const float*, const float*, const Conv2dShape&);

void expect_matches_reference(const ConvCase& c, ForwardFn forward, BackwardFn backward, bool ints,
                              std::uint64_t seed) {
  SCOPED_TRACE(std::string(c.name) + (ints ? ", small integers" : ", random floats"));
  const Conv2dShape s = shape_of(c);
  Generator gen(seed);
  Buffers d = make_buffers(c, s, gen, ints);
  const float* bias = c.bias ? d.b.data<float>() : nullptr;
  const std::size_t ny = static_cast<std::size_t>(d.dy.numel()), nx = static_cast<std::size_t>(d.x.numel());
  const std::size_t nw = static_cast<std::size_t>(d.w.numel()), nb = static_cast<std::size_t>(c.C_out);

  std::vector<float> y(ny), y_ref(ny), dx(nx), dx_ref(nx), dw(nw), dw_ref(nw), db(nb), db_ref(nb);
  forward(y.data(), d.x.data<float>(), d.w.data<float>(), bias, s, false);
  backward(dx.data(), dw.data(), db.data(), d.dy.data<float>(), d.x.data<float>(), d.w.data<float>(), s);
  cpu::conv2d_forward_reference(y_ref.data(), d.x.data<float>(), d.w.data<float>(), bias, s);
  cpu::conv2d_backward_reference(dx_ref.data(), dw_ref.data(), db_ref.data(), d.dy.data<float>(), d.x.data<float>(),
                                 d.w.data<float>(), s);
  if (ints) {
    EXPECT_EQ(y, y_ref);
    EXPECT_EQ(dx, dx_ref);
    EXPECT_EQ(dw, dw_ref);
    EXPECT_EQ(db, db_ref);
    return;
  }
  const auto ax = abs_copy(d.x), aw = abs_copy(d.w), ab = abs_copy(d.b), ady = abs_copy(d.dy);
  std::vector<float> y_abs(ny), dx_abs(nx), dw_abs(nw), db_abs(nb);
  cpu::conv2d_forward_reference(y_abs.data(), ax.data(), aw.data(), c.bias ? ab.data() : nullptr, s);
  cpu::conv2d_backward_reference(dx_abs.data(), dw_abs.data(), db_abs.data(), ady.data(), ax.data(), aw.data(), s);
  const double u = std::ldexp(1.0, -24);
  const double n_forward = c.C_in / c.groups * c.K * c.K + 1;
  const double n_dx = c.C_out / c.groups * c.K * c.K, n_dw = c.N * s.H_out * s.W_out;
  auto expect_within = [u](const std::vector<float>& got, const std::vector<float>& ref,
                           const std::vector<float>& abs_ref, double terms, const char* what) {
    for (std::size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], ref[i], (terms + 2) * u * abs_ref[i] + 1e-30) << what << " element " << i;
  };
  expect_within(y, y_ref, y_abs, n_forward, "y");
  expect_within(dx, dx_ref, dx_abs, n_dx, "dx");
  expect_within(dw, dw_ref, dw_abs, n_dw, "dw");
  expect_within(db, db_ref, db_abs, n_dw, "db");
}

TEST(Conv2d, Float32PathsMatchTheReference) {
  const int threads = num_threads();
  std::uint64_t seed = 100;
  for (int t : {1, 3}) {  // one thread, and more threads than cores (batch-1 chunking)
    set_num_threads(t);
    for (const ConvCase& c : kParityCases) {
      for (bool ints : {true, false}) {
        // The dispatcher (pointwise / depthwise / im2col by shape) and the im2col path forced.
        expect_matches_reference(c, cpu::conv2d_forward<float>, cpu::conv2d_backward<float>, ints, ++seed);
        expect_matches_reference(c, cpu::conv2d_im2col_forward<float>, cpu::conv2d_im2col_backward<float>, ints,
                                 ++seed);
      }
    }
  }
  set_num_threads(threads);
}

TEST(Conv2d, DispatcherPicksTheFastPaths) {
  EXPECT_TRUE(is_pointwise(conv2d_shape(1, 32, 8, 8, 64, 1, 1, 0, 1)));
  EXPECT_FALSE(is_pointwise(conv2d_shape(1, 32, 8, 8, 64, 1, 2, 0, 1)));
  EXPECT_TRUE(is_depthwise3x3(conv2d_shape(1, 32, 8, 8, 32, 3, 2, 1, 32)));
  EXPECT_FALSE(is_depthwise3x3(conv2d_shape(1, 32, 8, 8, 64, 3, 1, 1, 32)));
}

TEST(Conv2d, BackwardSkipsGradientsThatAreNotAsked) {
  const ConvCase c{"depthwise", 2, 4, 6, 6, 4, 3, 1, 1, 4, true};
  const Conv2dShape s = shape_of(c);
  Generator gen(30);
  Buffers d = make_buffers(c, s, gen, true);
  std::vector<float> dw(36), dw_ref(36);
  // No dx: the weight is not needed and may be null; no dweight: x may be null.
  cpu::conv2d_backward<float>(nullptr, dw.data(), nullptr, d.dy.data<float>(), d.x.data<float>(), nullptr, s);
  cpu::conv2d_backward_reference<float>(nullptr, dw_ref.data(), nullptr, d.dy.data<float>(), d.x.data<float>(),
                                        d.w.data<float>(), s);
  EXPECT_EQ(dw, dw_ref);
}

// Forward values do not depend on the thread count (each output element has one
// summation order); weight gradients are reproducible run to run.
TEST(Conv2d, DeterministicForAFixedThreadCount) {
  const int threads = num_threads();
  Generator gen(31);
  for (const ConvCase& c : {ConvCase{"pointwise", 1, 40, 30, 30, 24, 1, 1, 0, 1, false},
                            ConvCase{"depthwise", 1, 6, 30, 30, 6, 3, 2, 1, 6, false},
                            ConvCase{"general", 1, 3, 30, 30, 8, 3, 2, 1, 1, false}}) {
    SCOPED_TRACE(c.name);
    auto x = random_tensor({c.N, c.C_in, c.H, c.W}, gen, DType::F32);
    auto w = random_tensor({c.C_out, c.C_in / c.groups, c.K, c.K}, gen, DType::F32);
    auto run = [&] {
      Tensor xg = x.clone().set_requires_grad(), wg = w.clone().set_requires_grad();
      Tensor y = conv2d(xg, wg, Tensor(), options(c));
      y.backward(y.detach());  // a data-dependent seed
      return std::vector<std::vector<double>>{y.to_vector(), xg.grad().to_vector(), wg.grad().to_vector()};
    };
    set_num_threads(1);
    const auto one = run();
    set_num_threads(3);
    const auto a = run(), b = run();
    set_num_threads(threads);
    EXPECT_EQ(a, b);
    EXPECT_EQ(a[0], one[0]);
    EXPECT_EQ(a[1], one[1]);
  }
}

// ---- errors ---------------------------------------------------------------------------------

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(Conv2d, ShapeErrorsNameTheOpAndTheShapes) {
  const Tensor x3 = Tensor::zeros({2, 3, 8, 8});
  const Tensor w1 = Tensor::zeros({32, 1, 3, 3});
  EXPECT_EQ(error_of([&] {
              conv2d(x3, w1, Tensor(), {2, 1, 1});
            }),
            "conv2d: input has 3 channels, weight expects 1 (weight [32, 1, 3, 3])");
  EXPECT_EQ(error_of([&] {
              conv2d(x3, Tensor::zeros({6, 1, 3, 3}), Tensor(), {1, 1, 2});
            }),
            "conv2d: input has 3 channels, weight expects 2 (weight [6, 1, 3, 3], groups 2)");
  EXPECT_EQ(error_of([&] {
              conv2d(Tensor::zeros({3, 8, 8}), w1, Tensor(), {});
            }),
            "conv2d: input must have 4 dimensions, got [3, 8, 8]");
  EXPECT_EQ(error_of([&] {
              conv2d(x3, Tensor::zeros({4, 3, 3, 2}), Tensor(), {});
            }),
            "conv2d: the kernel must be square (weight [4, 3, 3, 2])");
  EXPECT_EQ(error_of([&] {
              conv2d(x3, Tensor::zeros({5, 1, 3, 3}), Tensor(), {1, 0, 3});
            }),
            "conv2d: 5 output channels are not divisible into 3 groups (weight [5, 1, 3, 3])");
  EXPECT_EQ(error_of([&] {
              conv2d(x3, Tensor::zeros({4, 3, 3, 3}), Tensor::zeros({5}), {});
            }),
            "conv2d: bias has 5 elements, weight has 4 outputs (bias [5], weight [4, 3, 3, 3])");
  EXPECT_EQ(error_of([&] {
              conv2d(Tensor::zeros({1, 3, 2, 2}), Tensor::zeros({4, 3, 3, 3}), Tensor(), {});
            }),
            "conv2d: input [1, 3, 2, 2] with padding 0 is smaller than the 3x3 kernel");
  EXPECT_EQ(error_of([&] {
              conv2d(x3, Tensor::zeros({4, 3, 3, 3}), Tensor(), {0, 0, 1});
            }),
            "conv2d: stride must be at least 1, got 0");
  EXPECT_EQ(error_of([&] {
              conv2d(x3, Tensor::zeros({4, 3, 3, 3}, DType::F64), Tensor(), {});
            }),
            "conv2d: weight is float64[4, 3, 3, 3] on cpu but the input is float32[2, 3, 8, 8] on cpu");
}

}  // namespace
