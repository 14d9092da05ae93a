// Ops on the GPU against the same ops on the CPU, forward and backward (through
// autograd), at several shapes: odd sizes, 1x1 maps, batch 1, channels that are not
// a multiple of 32, stride 2 on odd inputs; float32 and float64.
//
// Tolerances. The elementwise and pooling kernels perform the CPU's operations in the
// CPU's order, with no FMA on either side (kernels/CMakeLists.txt), and resize does
// too except that GCC and nvcc fuse different products into FMAs. All are compared
// exactly on small-integer data (every intermediate is exact, whatever the order or
// fusion; the upstream gradient is small integers too); on random data pooling within
// 4 ulps (almost(): room for a reordering we did not foresee) and resize within 16
// ulps of its O(1)..O(10) terms, both far below an indexing error, which moves
// results by O(1).
// Softmax and friends use the GPU's exp/log (a few ulps from glibc's) and sum in
// another order: float32 within 1e-6 + 1e-5 relative, float64 within 1e-13 + 1e-12
// relative. Reductions in double differ by their order only, i.e. in the last bit of
// the rounded result.
#include "cuda_testing.h"
#include "expect_error.h"

#include "engine/ops.h"

using namespace cxr;
using cxr::testing::expect_bitwise_equal;
using cxr::testing::expect_close;
using cxr::testing::expect_cuda_matches_cpu;
using cxr::testing::expect_error_mentioning;
using cxr::testing::random_int_tensor;
using cxr::testing::random_label_sets;
using cxr::testing::random_tensor;

namespace {

using Inputs = std::vector<Tensor>;

constexpr double kAlmostF32 = 4 * 0x1.0p-24;  // 4 ulps relative
constexpr double kAlmostF64 = 4 * 0x1.0p-53;

double almost(DType t) { return t == DType::F32 ? kAlmostF32 : kAlmostF64; }
// Beside almost(): results near zero after cancellation (values here are O(1)).
double almost_atol(DType t) { return t == DType::F32 ? 1e-6 : 1e-15; }
double fused_rtol(DType t) { return t == DType::F32 ? 16 * 0x1.0p-24 : 16 * 0x1.0p-53; }
double fused_atol(DType t) { return t == DType::F32 ? 1e-5 : 1e-14; }

const std::vector<Shape> kFlatShapes = {{1}, {7}, {1000}, {2, 3, 5, 5}, {1, 1, 1, 1}, {3, 33, 7, 9}, {70001}};
const std::vector<DType> kDtypes = {DType::F32, DType::F64};

Tensor grad_input(const Shape& shape, std::uint64_t seed, DType dtype, double lo = -1, double hi = 1) {
  Generator gen(seed);
  return random_tensor(shape, gen, dtype, lo, hi).set_requires_grad();
}

Tensor int_input(const Shape& shape, std::uint64_t seed, DType dtype, int lo = -8, int hi = 8) {
  Generator gen(seed);
  return random_int_tensor(shape, gen, lo, hi, dtype).set_requires_grad();
}

// ---- elementwise and reductions ---------------------------------------------------------

TEST(CudaOps, AddScaleReluExact) {
  CXR_REQUIRE_GPU();
  std::uint64_t seed = 100;
  for (DType dt : kDtypes)
    for (const Shape& s : kFlatShapes) {
      SCOPED_TRACE(shape_str(s));
      // One IEEE operation per element: equal to the CPU for any data.
      expect_cuda_matches_cpu([](const Inputs& in) { return add(in[0], in[1]); },
                              {grad_input(s, seed++, dt), grad_input(s, seed++, dt)}, 0, 0);
      expect_cuda_matches_cpu([](const Inputs& in) { return mul_scalar(in[0], -2.5); }, {grad_input(s, seed++, dt)},
                              0, 0);
      expect_cuda_matches_cpu([](const Inputs& in) { return relu(in[0]); }, {grad_input(s, seed++, dt)}, 0, 0);
    }
}

TEST(CudaOps, GradientReversalExact) {
  CXR_REQUIRE_GPU();
  std::uint64_t seed = 150;
  for (DType dt : kDtypes)
    for (const Shape& s : kFlatShapes) {
      SCOPED_TRACE(shape_str(s));
      // A copy forward, one IEEE product per element backward (mul_scalar's kernel).
      expect_cuda_matches_cpu([](const Inputs& in) { return gradient_reversal(in[0], 0.75); },
                              {grad_input(s, seed++, dt)}, 0, 0);
      const Tensor x = grad_input(s, seed++, dt).detach().to(Device::cuda());
      expect_bitwise_equal(gradient_reversal(x, 2.0), x);
    }
}

TEST(CudaOps, ReluGradientIsZeroAtZeroAsOnTheCpu) {
  CXR_REQUIRE_GPU();
  const Tensor x = Tensor::from_vector(std::vector<double>{-1, -0.0, 0, 2}, {4}).set_requires_grad();
  expect_cuda_matches_cpu([](const Inputs& in) { return relu(in[0]); }, {x}, 0, 0);
}

TEST(CudaOps, InputUsedTwiceAndGradientAccumulation) {
  CXR_REQUIRE_GPU();
  // add(x, x) sums two gradients (autograd's add); a second backward adds into
  // the leaf's existing .grad (add_) - both on the GPU.
  Tensor x = grad_input({3, 17}, 7, DType::F32).detach().to(Device::cuda()).set_requires_grad();
  const Tensor ones = Tensor::ones({3, 17}, DType::F32, Device::cuda());
  add(x, x).backward(ones);
  add(x, x).backward(ones);
  expect_close(x.grad(), Tensor::full({3, 17}, 4.0), 0, 0);
  EXPECT_TRUE(x.grad().device().is_cuda());
}

TEST(CudaOps, DropoutMaskIsTheCpuMaskBitForBit) {
  CXR_REQUIRE_GPU();
  for (DType dt : kDtypes)
    for (const Shape& s : kFlatShapes) {
      SCOPED_TRACE(shape_str(s));
      const Tensor x = grad_input(s, 3, dt, 0.5, 2.0).detach();
      Generator g_cpu(99), g_gpu(99);
      const Tensor a = dropout(x, 0.3, true, g_cpu);
      const Tensor b = dropout(x.to(Device::cuda()), 0.3, true, g_gpu);
      expect_bitwise_equal(b, a);
      EXPECT_EQ(g_cpu.state(), g_gpu.state());  // one key drawn on each
    }
  // And through autograd: the backward uses the same mask.
  Generator g_cpu(5), g_gpu(5);
  expect_cuda_matches_cpu(
      [&](const Inputs& in) { return dropout(in[0], 0.5, true, in[0].device().is_cuda() ? g_gpu : g_cpu); },
      {grad_input({4, 9, 11}, 4, DType::F32)}, 0, 0);
}

TEST(CudaOps, SumAndMean) {
  CXR_REQUIRE_GPU();
  std::uint64_t seed = 200;
  for (DType dt : kDtypes)
    for (const Shape& s : kFlatShapes) {
      SCOPED_TRACE(shape_str(s));
      // Both sum in double, in different orders: the rounded results may differ in the last bit.
      expect_cuda_matches_cpu([](const Inputs& in) { return sum(in[0]); }, {grad_input(s, seed++, dt)}, 1e-12,
                              2 * almost(dt));
      expect_cuda_matches_cpu([](const Inputs& in) { return mean(in[0]); }, {grad_input(s, seed++, dt)}, 1e-12,
                              2 * almost(dt));
      // Small integers: every partial sum is exact.
      expect_cuda_matches_cpu([](const Inputs& in) { return sum(in[0]); }, {int_input(s, seed++, dt)}, 0, 0);
    }
}

TEST(CudaOps, ReshapeAndFlattenAreViewsOnTheGpu) {
  CXR_REQUIRE_GPU();
  expect_cuda_matches_cpu([](const Inputs& in) { return relu(flatten(in[0])); },
                          {grad_input({2, 3, 5, 7}, 9, DType::F32)}, 0, 0);
  expect_cuda_matches_cpu([](const Inputs& in) { return reshape(in[0], {5, -1}); },
                          {grad_input({2, 3, 5, 7}, 10, DType::F64)}, 0, 0);
}

TEST(CudaOps, MixedDevicesAreRejected) {
  CXR_REQUIRE_GPU();
  const Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({2, 3}, DType::F32, Device::cuda());
  expect_error_mentioning([&] { (void)add(a, b); }, {"add", "on cpu", "on cuda:0"});
  Tensor b2 = b;
  expect_error_mentioning([&] { add_(b2, a); }, {"add_", "on cpu", "on cuda:0"});
  const Tensor w = Tensor::ones({3});
  expect_error_mentioning([&] { (void)cross_entropy(b, {0, 1}, w); }, {"cross_entropy", "on cpu", "on cuda:0"});
  expect_error_mentioning([&] { (void)label_set_cross_entropy(b, {1, 3}, w); },
                          {"label_set_cross_entropy", "on cpu", "on cuda:0"});
}

// ---- softmax and cross-entropy ----------------------------------------------------------

const std::vector<Shape> kRowShapes = {{1, 1}, {1, 3}, {5, 3}, {7, 2}, {4, 33}, {3, 100}, {129, 5}};

double softmax_atol(DType t) { return t == DType::F32 ? 1e-6 : 1e-13; }
double softmax_rtol(DType t) { return t == DType::F32 ? 1e-5 : 1e-12; }

TEST(CudaOps, SoftmaxAndLogSoftmax) {
  CXR_REQUIRE_GPU();
  std::uint64_t seed = 300;
  for (DType dt : kDtypes)
    for (const Shape& s : kRowShapes) {
      SCOPED_TRACE(shape_str(s));
      expect_cuda_matches_cpu([](const Inputs& in) { return softmax(in[0]); }, {grad_input(s, seed++, dt, -4, 4)},
                              softmax_atol(dt), softmax_rtol(dt));
      expect_cuda_matches_cpu([](const Inputs& in) { return log_softmax(in[0]); },
                              {grad_input(s, seed++, dt, -4, 4)}, softmax_atol(dt), softmax_rtol(dt));
    }
  // Large logits: the max is subtracted first, nothing overflows.
  expect_cuda_matches_cpu([](const Inputs& in) { return log_softmax(in[0]); },
                          {grad_input({3, 4}, 7, DType::F32, 500, 900)}, 1e-4, 1e-5);
}

TEST(CudaOps, CrossEntropyWithAndWithoutClassWeights) {
  CXR_REQUIRE_GPU();
  std::uint64_t seed = 400;
  for (DType dt : kDtypes)
    for (const Shape& s : kRowShapes) {
      SCOPED_TRACE(shape_str(s));
      Generator gen(seed++);
      std::vector<int> labels(static_cast<std::size_t>(s[0]));
      for (auto& y : labels) y = static_cast<int>(gen.below(static_cast<std::uint64_t>(s[1])));
      const Tensor weights = random_tensor({s[1]}, gen, dt, 0.2, 3.0);
      expect_cuda_matches_cpu([&](const Inputs& in) { return cross_entropy(in[0], labels); },
                              {grad_input(s, seed++, dt, -3, 3)}, softmax_atol(dt), softmax_rtol(dt));
      expect_cuda_matches_cpu(
          [&](const Inputs& in) { return cross_entropy(in[0], labels, weights.to(in[0].device())); },
          {grad_input(s, seed++, dt, -3, 3)}, softmax_atol(dt), softmax_rtol(dt));
    }
}

TEST(CudaOps, CrossEntropyBackwardScalesWithTheUpstreamGradient) {
  CXR_REQUIRE_GPU();
  // loss * 2.5 exercises a dloss other than 1 on both devices.
  expect_cuda_matches_cpu([](const Inputs& in) { return mul_scalar(cross_entropy(in[0], {2, 0, 1}), 2.5); },
                          {grad_input({3, 3}, 11, DType::F64)}, 1e-13, 1e-12);
}

// Masks hold C <= 32 classes: odd sizes, batch 1, C = 32, and more rows (300) than the
// loss kernel's block has threads (256).
const std::vector<Shape> kSetShapes = {{1, 1}, {1, 3}, {5, 3}, {7, 5}, {4, 32}, {129, 5}, {300, 7}};

TEST(CudaOps, LabelSetCrossEntropyWithAndWithoutClassWeights) {
  CXR_REQUIRE_GPU();
  std::uint64_t seed = 450;
  for (DType dt : kDtypes)
    for (const Shape& s : kSetShapes) {
      SCOPED_TRACE(shape_str(s));
      Generator gen(seed++);
      const std::vector<std::uint32_t> masks = random_label_sets(s[0], s[1], gen);
      const Tensor weights = random_tensor({s[1]}, gen, dt, 0.2, 3.0);
      // Cross-entropy's bounds: the same exp/log and row order as the CPU, other sums' order.
      expect_cuda_matches_cpu([&](const Inputs& in) { return label_set_cross_entropy(in[0], masks); },
                              {grad_input(s, seed++, dt, -3, 3)}, softmax_atol(dt), softmax_rtol(dt));
      expect_cuda_matches_cpu(
          [&](const Inputs& in) { return label_set_cross_entropy(in[0], masks, weights.to(in[0].device())); },
          {grad_input(s, seed++, dt, -3, 3)}, softmax_atol(dt), softmax_rtol(dt));
    }
  // dloss = 2.5 through mul_scalar, on both devices.
  expect_cuda_matches_cpu(
      [](const Inputs& in) { return mul_scalar(label_set_cross_entropy(in[0], {0b100, 0b011, 0b111}), 2.5); },
      {grad_input({3, 3}, 12, DType::F64)}, 1e-13, 1e-12);
}

// ---- pooling --------------------------------------------------------------------------

struct PoolCase {
  Shape shape;
  int kernel, stride, padding;
};
const std::vector<PoolCase> kPoolCases = {
    {{2, 3, 7, 7}, 3, 2, 1},    // stride 2 on odd input, padding
    {{1, 5, 8, 9}, 2, 2, 0},    // batch 1, odd width
    {{2, 33, 5, 6}, 3, 1, 1},   // channels not a multiple of 32, overlapping windows
    {{3, 2, 1, 1}, 1, 1, 0},    // 1x1 maps
    {{1, 1, 11, 4}, 4, 3, 2},   // tall, padding = half the kernel
};

TEST(CudaOps, MaxPoolExactIncludingTies) {
  CXR_REQUIRE_GPU();
  std::uint64_t seed = 500;
  for (DType dt : kDtypes)
    for (const PoolCase& c : kPoolCases) {
      SCOPED_TRACE(shape_str(c.shape) + " k" + std::to_string(c.kernel) + " s" + std::to_string(c.stride));
      auto f = [&](const Inputs& in) { return max_pool2d(in[0], c.kernel, c.stride, c.padding); };
      // No arithmetic in the forward, the CPU's tie rule, sums in the CPU's order: exact.
      expect_cuda_matches_cpu(f, {grad_input(c.shape, seed++, dt)}, 0, 0);
      expect_cuda_matches_cpu(f, {int_input(c.shape, seed++, dt, 0, 2)}, 0, 0);  // many ties
    }
}

TEST(CudaOps, AvgPoolAndGlobalAvgPool) {
  CXR_REQUIRE_GPU();
  std::uint64_t seed = 600;
  for (DType dt : kDtypes)
    for (const PoolCase& c : kPoolCases) {
      SCOPED_TRACE(shape_str(c.shape) + " k" + std::to_string(c.kernel) + " s" + std::to_string(c.stride));
      auto f = [&](const Inputs& in) { return avg_pool2d(in[0], c.kernel, c.stride, c.padding); };
      expect_cuda_matches_cpu(f, {grad_input(c.shape, seed++, dt)}, almost_atol(dt), almost(dt));
      if (c.kernel == 1 || c.kernel == 2 || c.kernel == 4)  // 1/k^2 exact: integer data gives exact results
        expect_cuda_matches_cpu(f, {int_input(c.shape, seed++, dt)}, 0, 0);
      // The global average sums in double in another order: the last bit may differ.
      expect_cuda_matches_cpu([](const Inputs& in) { return global_avg_pool2d(in[0]); },
                              {grad_input(c.shape, seed++, dt)}, 1e-12, 2 * almost(dt));
    }
  // Large maps take several warps per block in the global average.
  expect_cuda_matches_cpu([](const Inputs& in) { return global_avg_pool2d(in[0]); },
                          {int_input({2, 3, 61, 67}, 7, DType::F32)}, 0, 0);
}

// ---- resize -------------------------------------------------------------------------------

TEST(CudaOps, ResizeBilinearUpAndDown) {
  CXR_REQUIRE_GPU();
  struct Case {
    Shape shape;
    int out_h, out_w;
  };
  const std::vector<Case> cases = {
      {{1, 1, 1, 1}, 3, 5},    // from a 1x1 map
      {{2, 3, 7, 9}, 14, 18},  // x2 up, odd sizes
      {{2, 33, 9, 7}, 4, 3},   // down, channels not a multiple of 32
      {{1, 2, 5, 5}, 5, 5},    // identity size
      {{3, 1, 6, 10}, 13, 1},  // mixed, to one column
  };
  std::uint64_t seed = 700;
  for (DType dt : kDtypes)
    for (const Case& c : cases) {
      SCOPED_TRACE(shape_str(c.shape) + " -> " + std::to_string(c.out_h) + "x" + std::to_string(c.out_w));
      auto f = [&](const Inputs& in) { return resize_bilinear(in[0], c.out_h, c.out_w); };
      expect_cuda_matches_cpu(f, {grad_input(c.shape, seed++, dt)}, fused_atol(dt), fused_rtol(dt));
    }
  // x2 upsampling: the weights are 1/4 and 3/4, so integer data stays exact.
  expect_cuda_matches_cpu([](const Inputs& in) { return resize_bilinear(in[0], 10, 14); },
                          {int_input({2, 3, 5, 7}, 8, DType::F32)}, 0, 0);
}

}  // namespace
