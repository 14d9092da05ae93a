// CUDA launchers called directly on device arrays with canaries around every output
// (tests/cuda_testing.h's CanaryBuffer): each output is compared with the CPU kernel
// of the same name on the same host data, and the sentinel pads before and after it
// must be untouched. Sizes around block and chunk boundaries (1, 255, 256, 257,
// 8191..8193, 3*8192 + 5) catch tail and indexing errors; n = 0 must write nothing.
//
// Tolerances as in test_cuda_ops.cpp: elementwise and pooling kernels repeat the
// CPU's operations in order without FMAs on either side: exact (or almost() = 4 ulps
// where a sum could be reordered). Resize and the optimizers repeat the CPU's formulas
// but GCC and nvcc fuse different products into FMAs: a few ulps (loose(), 16 ulps of
// the largest term). Sums in double differ in order only (last bit of the result);
// softmax uses the GPU's exp/log (1e-6 + 1e-5 relative in float32).
#include "cuda_testing.h"

#ifdef CXR_HAVE_CUDA

#include "engine/data/augment.h"
#include "engine/random.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/optimizer.h"
#include "kernels/cpu/pool.h"
#include "kernels/cpu/resize.h"
#include "kernels/cpu/softmax.h"
#include "kernels/cuda/augment.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/optimizer.h"
#include "kernels/cuda/pool.h"
#include "kernels/cuda/resize.h"
#include "kernels/cuda/softmax.h"

#include <cmath>
#include <memory>

using namespace cxr;
using cxr::testing::CanaryBuffer;

namespace {

const std::vector<std::int64_t> kSizes = {1, 255, 256, 257, 8191, 8192, 8193, 3 * 8192 + 5, 100003};

template <class T>
std::vector<T> values(std::int64_t n, std::uint64_t seed, double lo = -1, double hi = 1) {
  Generator gen(seed);
  std::vector<T> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = static_cast<T>(gen.uniform(lo, hi));
  return v;
}

template <class T>
double almost() {
  return sizeof(T) == 4 ? 4 * 0x1.0p-24 : 4 * 0x1.0p-53;
}
template <class T>
double almost_atol() {
  return sizeof(T) == 4 ? 1e-6 : 1e-15;
}
// FMA on one side, not on the other: ulps of the terms, which are O(1) to O(10) here.
template <class T>
double loose() {
  return sizeof(T) == 4 ? 16 * 0x1.0p-24 : 16 * 0x1.0p-53;
}
template <class T>
double loose_atol() {
  return sizeof(T) == 4 ? 1e-5 : 1e-14;
}

template <class T>
void expect_near(const std::vector<T>& actual, const std::vector<T>& expected, double atol, double rtol) {
  ASSERT_EQ(actual.size(), expected.size());
  std::int64_t bad = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double a = actual[i], e = expected[i];
    if (std::abs(a - e) <= atol + rtol * std::abs(e)) continue;
    if (bad++ < 5) ADD_FAILURE() << "element " << i << ": " << a << " vs expected " << e;
  }
  EXPECT_EQ(bad, 0) << bad << " of " << actual.size() << " elements differ";
}

template <class T>
class CudaKernels : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(CudaKernels, Types);

TYPED_TEST(CudaKernels, ElementwiseMatchTheCpuAndStayInBounds) {
  CXR_REQUIRE_GPU();
  using T = TypeParam;
  for (std::int64_t n : kSizes) {
    SCOPED_TRACE(n);
    const auto a = values<T>(n, 1), b = values<T>(n, 2);
    std::vector<T> expected(a.size());
    CanaryBuffer<T> da(a), db(b), out(n);

    cpu::add_forward(expected.data(), a.data(), b.data(), n);
    cuda::add_forward(out.data(), da.data(), db.data(), n);
    EXPECT_EQ(out.download(), expected);

    cpu::scale_forward(expected.data(), a.data(), T(-1.7), n);
    cuda::scale_forward(out.data(), da.data(), T(-1.7), n);
    EXPECT_EQ(out.download(), expected);

    cpu::relu_forward(expected.data(), a.data(), n);
    cuda::relu_forward(out.data(), da.data(), n);
    EXPECT_EQ(out.download(), expected);

    const std::vector<T> relu_out = expected;
    CanaryBuffer<T> dro(relu_out);
    cpu::relu_backward(expected.data(), relu_out.data(), b.data(), n);
    cuda::relu_backward(out.data(), dro.data(), db.data(), n);
    EXPECT_EQ(out.download(), expected);

    cpu::dropout_forward(expected.data(), a.data(), 0.4, 1234, n);
    cuda::dropout_forward(out.data(), da.data(), 0.4, 1234, n);
    EXPECT_EQ(out.download(), expected);  // the same mask and the same products
    cpu::dropout_backward(expected.data(), b.data(), 0.4, 1234, n);
    cuda::dropout_backward(out.data(), db.data(), 0.4, 1234, n);
    EXPECT_EQ(out.download(), expected);

    std::vector<T> inplace = a;
    cpu::add_inplace(inplace.data(), b.data(), n);
    cpu::scale_inplace(inplace.data(), T(0.3), n);
    cuda::add_inplace(da.data(), db.data(), n);
    cuda::scale_inplace(da.data(), T(0.3), n);
    EXPECT_EQ(da.download(), inplace);

    for (auto* buffer : {&da, &db, &out, &dro}) buffer->expect_canaries_intact();
  }
}

TYPED_TEST(CudaKernels, EmptyInputsWriteNothing) {
  CXR_REQUIRE_GPU();
  using T = TypeParam;
  CanaryBuffer<T> out(0), x(0);
  cuda::add_forward(out.data(), x.data(), x.data(), 0);
  cuda::relu_forward(out.data(), x.data(), 0);
  cuda::dropout_forward(out.data(), x.data(), 0.5, 1, 0);
  EXPECT_EQ(cuda::sum_forward(x.data(), 0), 0.0);
  EXPECT_EQ(cuda::sum_of_squares(x.data(), 0), 0.0);
  out.expect_canaries_intact();
}

TYPED_TEST(CudaKernels, SumsAcrossChunkBoundaries) {
  CXR_REQUIRE_GPU();
  using T = TypeParam;
  for (std::int64_t n : kSizes) {
    SCOPED_TRACE(n);
    const auto x = values<T>(n, 3);
    CanaryBuffer<T> dx(x);
    // Both in double, in different orders: ~n * 2^-53 relative to sum |x|.
    EXPECT_NEAR(cuda::sum_forward(dx.data(), n), cpu::sum_forward(x.data(), n), 1e-12 * n);
    EXPECT_NEAR(cuda::sum_of_squares(dx.data(), n), cpu::sum_of_squares(x.data(), n), 1e-12 * n);
    // Small integers: every partial sum is exact, so the totals are equal.
    std::vector<T> ints(x.size());
    for (std::size_t i = 0; i < ints.size(); ++i) ints[i] = static_cast<T>(std::round(x[i] * 10));
    CanaryBuffer<T> di(ints);
    EXPECT_EQ(cuda::sum_forward(di.data(), n), cpu::sum_forward(ints.data(), n));
    EXPECT_EQ(cuda::sum_of_squares(di.data(), n), cpu::sum_of_squares(ints.data(), n));
  }
}

TYPED_TEST(CudaKernels, SoftmaxAndCrossEntropy) {
  CXR_REQUIRE_GPU();
  using T = TypeParam;
  const double atol = sizeof(T) == 4 ? 1e-6 : 1e-13, rtol = sizeof(T) == 4 ? 1e-5 : 1e-12;
  for (auto [N, C] :
       std::vector<std::pair<std::int64_t, std::int64_t>>{{1, 1}, {3, 3}, {9, 2}, {5, 31}, {2, 65}, {300, 3}}) {
    SCOPED_TRACE(std::to_string(N) + "x" + std::to_string(C));
    const std::int64_t n = N * C;
    const auto x = values<T>(n, 4, -5, 5), dy = values<T>(n, 5);
    std::vector<T> y(x.size()), dx(x.size());
    CanaryBuffer<T> dx_d(x), ddy(dy), out(n), grad(n);

    cpu::softmax_forward(y.data(), x.data(), N, C);
    cuda::softmax_forward(out.data(), dx_d.data(), N, C);
    expect_near(out.download(), y, atol, rtol);
    CanaryBuffer<T> dyv(y);
    cpu::softmax_backward(dx.data(), y.data(), dy.data(), N, C);
    cuda::softmax_backward(grad.data(), dyv.data(), ddy.data(), N, C);
    expect_near(grad.download(), dx, atol, rtol);

    cpu::log_softmax_forward(y.data(), x.data(), N, C);
    cuda::log_softmax_forward(out.data(), dx_d.data(), N, C);
    expect_near(out.download(), y, atol, rtol);
    CanaryBuffer<T> dlv(y);
    cpu::log_softmax_backward(dx.data(), y.data(), dy.data(), N, C);
    cuda::log_softmax_backward(grad.data(), dlv.data(), ddy.data(), N, C);
    expect_near(grad.download(), dx, atol, rtol);

    Generator gen(6);
    std::vector<int> labels(static_cast<std::size_t>(N));
    for (auto& l : labels) l = static_cast<int>(gen.below(static_cast<std::uint64_t>(C)));
    const auto w = values<T>(C, 7, 0.1, 2.0);
    CanaryBuffer<int> dlabels(labels);
    CanaryBuffer<T> dw(w);
    for (bool weighted : {false, true}) {
      const double loss =
          cpu::cross_entropy_forward(y.data(), x.data(), labels.data(), weighted ? w.data() : nullptr, N, C);
      const double gpu_loss =
          cuda::cross_entropy_forward(out.data(), dx_d.data(), dlabels.data(), weighted ? dw.data() : nullptr, N, C);
      EXPECT_NEAR(gpu_loss, loss, atol + rtol * std::abs(loss));
      expect_near(out.download(), y, atol, rtol);
      cpu::cross_entropy_backward(dx.data(), y.data(), labels.data(), weighted ? w.data() : nullptr, 0.7, N, C);
      cuda::cross_entropy_backward(grad.data(), out.data(), dlabels.data(), weighted ? dw.data() : nullptr, 0.7, N, C);
      expect_near(grad.download(), dx, atol, rtol);
    }
    for (auto* b : {&dx_d, &ddy, &out, &grad, &dyv, &dlv, &dw}) b->expect_canaries_intact();
    dlabels.expect_canaries_intact();
  }
}

TYPED_TEST(CudaKernels, LabelSetCrossEntropy) {
  CXR_REQUIRE_GPU();
  using T = TypeParam;
  // As cross-entropy: the GPU's exp/log, the same order within a row, rows summed in another order.
  const double atol = sizeof(T) == 4 ? 1e-6 : 1e-13, rtol = sizeof(T) == 4 ? 1e-5 : 1e-12;
  for (auto [N, C] :
       std::vector<std::pair<std::int64_t, std::int64_t>>{{1, 1}, {3, 3}, {9, 2}, {7, 5}, {5, 31}, {2, 32}, {300, 3}}) {
    SCOPED_TRACE(std::to_string(N) + "x" + std::to_string(C));
    const std::int64_t n = N * C;
    const auto x = values<T>(n, 8, -5, 5);
    Generator gen(9);
    const std::vector<std::uint32_t> masks = cxr::testing::random_label_sets(N, C, gen);
    const auto w = values<T>(C, 10, 0.1, 2.0);
    std::vector<T> y(x.size()), dx(x.size());
    CanaryBuffer<T> dx_d(x), out(n), grad(n), dw(w);
    CanaryBuffer<std::uint32_t> dmasks(masks);
    for (bool weighted : {false, true}) {
      const double loss =
          cpu::label_set_cross_entropy_forward(y.data(), x.data(), masks.data(), weighted ? w.data() : nullptr, N, C);
      const double gpu_loss = cuda::label_set_cross_entropy_forward(out.data(), dx_d.data(), dmasks.data(),
                                                                    weighted ? dw.data() : nullptr, N, C);
      EXPECT_NEAR(gpu_loss, loss, atol + rtol * std::abs(loss));
      expect_near(out.download(), y, atol, rtol);
      cpu::label_set_cross_entropy_backward(dx.data(), y.data(), masks.data(), weighted ? w.data() : nullptr, 0.7, N,
                                            C);
      cuda::label_set_cross_entropy_backward(grad.data(), out.data(), dmasks.data(), weighted ? dw.data() : nullptr,
                                             0.7, N, C);
      expect_near(grad.download(), dx, atol, rtol);
    }
    for (auto* b : {&dx_d, &out, &grad, &dw}) b->expect_canaries_intact();
    dmasks.expect_canaries_intact();
  }
}

TYPED_TEST(CudaKernels, PoolingForwardAndGatheredBackward) {
  CXR_REQUIRE_GPU();
  using T = TypeParam;
  const std::vector<Pool2dShape> shapes = {{2, 3, 7, 7, 3, 2, 1, 0, 0},
                                           {1, 33, 8, 9, 2, 2, 0, 0, 0},
                                           {3, 2, 1, 1, 1, 1, 0, 0, 0},
                                           {1, 1, 11, 4, 4, 3, 2, 0, 0},
                                           {2, 5, 6, 6, 3, 1, 1, 0, 0}};
  for (Pool2dShape s : shapes) {
    s.out_h = (s.H + 2 * s.padding - s.kernel) / s.stride + 1;
    s.out_w = (s.W + 2 * s.padding - s.kernel) / s.stride + 1;
    SCOPED_TRACE(std::to_string(s.H) + "x" + std::to_string(s.W) + " k" + std::to_string(s.kernel));
    const std::int64_t in_n = s.N * s.C * s.H * s.W, out_n = s.N * s.C * s.out_h * s.out_w;
    const auto x = values<T>(in_n, 8), dy = values<T>(out_n, 9);
    std::vector<T> y(static_cast<std::size_t>(out_n)), dx(static_cast<std::size_t>(in_n));
    std::vector<std::int32_t> argmax(static_cast<std::size_t>(out_n));
    CanaryBuffer<T> dx_d(x), ddy(dy), out(out_n), grad(in_n);
    CanaryBuffer<std::int32_t> dargmax(out_n);

    cpu::max_pool2d_forward(y.data(), argmax.data(), x.data(), s);
    cuda::max_pool2d_forward(out.data(), dargmax.data(), dx_d.data(), s);
    EXPECT_EQ(out.download(), y);
    EXPECT_EQ(dargmax.download(), argmax);
    cpu::max_pool2d_backward(dx.data(), dy.data(), argmax.data(), s);
    cuda::max_pool2d_backward(grad.data(), ddy.data(), dargmax.data(), s);
    EXPECT_EQ(grad.download(), dx);  // the same additions in the same order

    cpu::avg_pool2d_forward(y.data(), x.data(), s);
    cuda::avg_pool2d_forward(out.data(), dx_d.data(), s);
    expect_near(out.download(), y, almost_atol<T>(), almost<T>());
    cpu::avg_pool2d_backward(dx.data(), dy.data(), s);
    cuda::avg_pool2d_backward(grad.data(), ddy.data(), s);
    expect_near(grad.download(), dx, almost_atol<T>(), almost<T>());

    const std::int64_t maps = s.N * s.C, HW = s.H * s.W;
    CanaryBuffer<T> pooled(maps), dpooled(values<T>(maps, 10));
    std::vector<T> gy(static_cast<std::size_t>(maps));
    cpu::global_avg_pool2d_forward(gy.data(), x.data(), maps, HW);
    cuda::global_avg_pool2d_forward(pooled.data(), dx_d.data(), maps, HW);
    expect_near(pooled.download(), gy, 1e-12, 2 * almost<T>());
    const auto dpooled_host = dpooled.download();
    cpu::global_avg_pool2d_backward(dx.data(), dpooled_host.data(), maps, HW);
    cuda::global_avg_pool2d_backward(grad.data(), dpooled.data(), maps, HW);
    EXPECT_EQ(grad.download(), dx);

    for (auto* b : {&dx_d, &ddy, &out, &grad, &pooled, &dpooled}) b->expect_canaries_intact();
    dargmax.expect_canaries_intact();
  }
}

TYPED_TEST(CudaKernels, ResizeForwardAndGatheredBackward) {
  CXR_REQUIRE_GPU();
  using T = TypeParam;
  struct Case {
    std::int64_t maps, H, W, OH, OW;
  };
  for (const Case& c : std::vector<Case>{{1, 1, 1, 3, 5},
                                         {6, 7, 9, 14, 18},
                                         {66, 9, 7, 4, 3},
                                         {3, 6, 10, 13, 1},
                                         {2, 5, 5, 5, 5},
                                         {1, 37, 3, 11, 29}}) {
    SCOPED_TRACE(std::to_string(c.H) + "x" + std::to_string(c.W) + " -> " + std::to_string(c.OH) + "x" +
                 std::to_string(c.OW));
    const std::int64_t in_n = c.maps * c.H * c.W, out_n = c.maps * c.OH * c.OW;
    const auto x = values<T>(in_n, 11), dy = values<T>(out_n, 12);
    std::vector<T> y(static_cast<std::size_t>(out_n)), dx(static_cast<std::size_t>(in_n));
    CanaryBuffer<T> dx_d(x), ddy(dy), out(out_n), grad(in_n);
    cpu::resize_bilinear_forward(y.data(), x.data(), c.maps, c.H, c.W, c.OH, c.OW);
    cuda::resize_bilinear_forward(out.data(), dx_d.data(), c.maps, c.H, c.W, c.OH, c.OW);
    expect_near(out.download(), y, loose_atol<T>(), loose<T>());
    cpu::resize_bilinear_backward(dx.data(), dy.data(), c.maps, c.H, c.W, c.OH, c.OW);
    cuda::resize_bilinear_backward(grad.data(), ddy.data(), c.maps, c.H, c.W, c.OH, c.OW);
    expect_near(grad.download(), dx, loose_atol<T>(), loose<T>());
    for (auto* b : {&dx_d, &ddy, &out, &grad}) b->expect_canaries_intact();
  }
}

TYPED_TEST(CudaKernels, OptimizerUpdates) {
  CXR_REQUIRE_GPU();
  using T = TypeParam;
  for (std::int64_t n : kSizes) {
    SCOPED_TRACE(n);
    auto p = values<T>(n, 13), m = values<T>(n, 14, -0.1, 0.1), v = values<T>(n, 15, 0, 0.01);
    const auto g = values<T>(n, 16);
    CanaryBuffer<T> dp(p), dm(m), dv(v), dg(g);
    const AdamWStep a{1e-3, 0.9, 0.999, 1e-8, 0.05, 1 - std::pow(0.9, 3), 1 - std::pow(0.999, 3)};
    cpu::adamw_update(p.data(), m.data(), v.data(), g.data(), a, n);
    cuda::adamw_update(dp.data(), dm.data(), dv.data(), dg.data(), a, n);
    expect_near(dp.download(), p, loose_atol<T>(), loose<T>());
    expect_near(dm.download(), m, loose_atol<T>(), loose<T>());
    expect_near(dv.download(), v, loose_atol<T>(), loose<T>());

    for (const SGDStep& s : {SGDStep{0.1, 0.9, 0.0, 1e-4, false, true}, SGDStep{0.1, 0.9, 0.0, 1e-4, true, false},
                             SGDStep{0.05, 0.8, 0.2, 0.0, false, false}, SGDStep{0.1, 0.0, 0.0, 0.01, false, false}}) {
      cpu::sgd_update(p.data(), m.data(), g.data(), s, n);
      cuda::sgd_update(dp.data(), dm.data(), dg.data(), s, n);
      expect_near(dp.download(), p, loose_atol<T>(), loose<T>());  // differences add up over the 5 updates
      expect_near(dm.download(), m, loose_atol<T>(), loose<T>());
    }
    for (auto* b : {&dp, &dm, &dv, &dg}) b->expect_canaries_intact();
  }
}

TEST(CudaKernelsLarge, IndexesPast2To31Elements) {
  CXR_REQUIRE_GPU();
  // 2^31 + 7 floats (8 GiB per array): an int32 index would wrap before the tail.
  const std::int64_t n = (std::int64_t{1} << 31) + 7;
  std::unique_ptr<cuda::DeviceArray<float>> a, b;
  try {
    a = std::make_unique<cuda::DeviceArray<float>>(n);
    b = std::make_unique<cuda::DeviceArray<float>>(n);
  } catch (const Error& e) {
    GTEST_SKIP() << "not enough GPU memory for two arrays of 2^31 + 7 floats: " << e.what();
  }
  cuda::fill(a->get(), 1.0f, n);
  cuda::fill(b->get(), 2.0f, n);
  cuda::add_inplace(b->get(), a->get(), n);
  std::vector<float> tail(64);
  cuda::copy_bytes(tail.data(), false, b->get() + n - 64, true, tail.size() * sizeof(float));
  for (float v : tail) EXPECT_EQ(v, 3.0f);
  EXPECT_EQ(cuda::sum_forward(a->get(), n), static_cast<double>(n));  // integers: exact in double
}

TEST(CudaKernelsAugment, MatchesTheCpuPerImageAndStaysInBounds) {
  CXR_REQUIRE_GPU();
  const int batch = 3, size = 29;
  const std::int64_t pixels = std::int64_t{size} * size;
  Generator gen(17);
  std::vector<std::uint8_t> images(static_cast<std::size_t>(batch * pixels));
  for (auto& p : images) p = static_cast<std::uint8_t>(gen.below(256));
  data::AugmentOptions options;
  options.horizontal_flip = true;
  std::vector<data::AugmentParams> params;
  std::vector<AugmentParams> plain;
  for (int b = 0; b < batch; ++b) {
    params.push_back(data::sample_augment(options, size, gen));
    const data::AugmentParams& p = params.back();
    plain.push_back({p.angle, p.scale, p.tx, p.ty, p.flip, p.brightness, p.contrast});
  }
  CanaryBuffer<std::uint8_t> in(images);
  CanaryBuffer<float> out(batch * pixels), normalized(batch * pixels);
  cuda::augment_images(out.data(), in.data(), batch, size, plain.data(), 0.5f, 0.25f);
  cuda::normalize_images(normalized.data(), in.data(), batch * pixels, 0.5f, 0.25f);
  std::vector<float> expected(static_cast<std::size_t>(batch * pixels)), plain_expected(expected.size());
  for (int b = 0; b < batch; ++b) {
    data::augment_image(expected.data() + b * pixels, images.data() + b * pixels, size, params[b], 0.5f, 0.25f);
    data::normalize_image(plain_expected.data() + b * pixels, images.data() + b * pixels, pixels, 0.5f, 0.25f);
  }
  // FMAs in different places (test_cuda_augment.cpp).
  expect_near(out.download(), expected, 1e-5, 0);
  expect_near(normalized.download(), plain_expected, 1e-6, 0);
  in.expect_canaries_intact();
  out.expect_canaries_intact();
  normalized.expect_canaries_intact();
}

}  // namespace

#else

TEST(CudaKernels, NotCompiled) {
  GTEST_SKIP() << "CUDA backend not compiled";
}

#endif  // CXR_HAVE_CUDA
