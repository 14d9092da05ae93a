// The CUDA ops beyond the op registry's table (tests/ops/, whose CudaParity.<op> tests
// run every op on the GPU against the CPU): gradient_reversal's forward bit for bit,
// autograd's accumulation on the GPU, dropout's mask and generator state against the
// CPU's, and the mixed-device errors.
#include "cuda_testing.h"
#include "expect_error.h"

#include "engine/ops.h"

using namespace cxr;
using cxr::testing::expect_bitwise_equal;
using cxr::testing::expect_close;
using cxr::testing::expect_error_mentioning;
using cxr::testing::random_tensor;

namespace {

const std::vector<Shape> kFlatShapes = {{1}, {7}, {1000}, {2, 3, 5, 5}, {1, 1, 1, 1}, {3, 33, 7, 9}, {70001}};
const std::vector<DType> kDtypes = {DType::F32, DType::F64};

Tensor grad_input(const Shape& shape, std::uint64_t seed, DType dtype, double lo = -1, double hi = 1) {
  Generator gen(seed);
  return random_tensor(shape, gen, dtype, lo, hi).set_requires_grad();
}

TEST(CudaOps, GradientReversalForwardIsTheInputBitForBit) {
  CXR_REQUIRE_GPU();
  std::uint64_t seed = 150;
  for (DType dt : kDtypes)
    for (const Shape& s : kFlatShapes) {
      SCOPED_TRACE(shape_str(s));
      const Tensor x = grad_input(s, seed++, dt).detach().to(Device::cuda());
      expect_bitwise_equal(gradient_reversal(x, 2.0), x);
    }
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
}

TEST(CudaOps, MixedDevicesAreRejected) {
  CXR_REQUIRE_GPU();
  const Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({2, 3}, DType::F32, Device::cuda());
  expect_error_mentioning([&] { (void)add(a, b); }, {"add", "on cpu", "on cuda:0"});
  Tensor b2 = b;
  expect_error_mentioning([&] { add_(b2, a); }, {"add_", "on cpu", "on cuda:0"});
  const Tensor w = Tensor::ones({3});
  expect_error_mentioning([&] { (void)cross_entropy(b, {0, 1}, w); }, {"cross_entropy", "on cpu", "on cuda:0"});
  expect_error_mentioning(
      [&] {
        (void)label_set_cross_entropy(b, {1, 3}, w);
      },
      {"label_set_cross_entropy", "on cpu", "on cuda:0"});
}

}  // namespace
