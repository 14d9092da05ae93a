// Tensors on the GPU: copies in both directions (odd sizes, both dtypes, views at
// an offset, dtype conversion on the way), zeros/full/fill_, element reads, the
// caching allocator, device checks, and the errors of a build or machine without
// a GPU (those run in every configuration).
#include "cuda_testing.h"
#include "expect_error.h"

#include "engine/ops.h"

#include <cstdlib>

using namespace cxr;
using cxr::testing::expect_bitwise_equal;
using cxr::testing::expect_close;
using cxr::testing::expect_error_mentioning;
using cxr::testing::random_tensor;

namespace {

const std::vector<Shape> kShapes = {{}, {1}, {7}, {1023}, {1025}, {3, 5, 7, 9}, {0}, {2, 0, 3}};

bool gpu_usable() {
  return cuda::compiled() && cuda::device_count() > 0;
}

std::string unavailable_reason() {
  return cuda::compiled() ? "no CUDA GPU visible" : "CUDA backend not compiled";
}

TEST(CudaTensor, MovingToCudaWithoutAGpuThrowsTheReason) {
  if (gpu_usable()) GTEST_SKIP() << "a GPU is visible: this test covers builds and machines without one";
  const Tensor x = Tensor::ones({3});
  expect_error_mentioning([&] { (void)x.to(Device::cuda()); }, {"cuda:0", unavailable_reason()});
  expect_error_mentioning(
      [] {
        (void)Tensor::zeros({2, 2}, DType::F32, Device::cuda());
      },
      {"cuda:0", unavailable_reason()});
  expect_error_mentioning([] { (void)Tensor::empty({4}, DType::F64, Device::cuda()); },
                          {"cuda:0", unavailable_reason()});
}

TEST(CudaTensor, QueriesAnswerWithoutAGpu) {
  if (gpu_usable()) GTEST_SKIP() << "a GPU is visible: this test covers builds and machines without one";
  EXPECT_EQ(cuda::device_count(), 0);
  EXPECT_NE(cuda::describe().find(cuda::compiled() ? "no GPU visible" : "not compiled"), std::string::npos)
      << cuda::describe();
  EXPECT_EQ(cuda::cached_bytes(), 0u);
}

TEST(CudaTensor, SameDeviceCheckAcceptsOneDeviceAndSkipsUndefined) {
  const Tensor a = Tensor::zeros({2}), b = Tensor::zeros({3}), none;
  check_same_device("op", {&a, &none, &b});  // must not throw
  check_same_device("op", {});
}

TEST(CudaTensor, RoundTripKeepsEveryBit) {
  CXR_REQUIRE_GPU();
  std::uint64_t seed = 1;
  for (const DType dtype : {DType::F32, DType::F64})
    for (const Shape& shape : kShapes) {
      Generator gen(seed++);
      const Tensor x = random_tensor(shape, gen, dtype, -1e3, 1e3);
      const Tensor on_gpu = x.to(Device::cuda());
      EXPECT_EQ(on_gpu.device(), Device::cuda());
      EXPECT_EQ(on_gpu.shape(), shape);
      EXPECT_EQ(on_gpu.dtype(), dtype);
      const Tensor back = on_gpu.to(Device::cpu());
      EXPECT_TRUE(back.device().is_cpu());
      expect_bitwise_equal(back, x);
      expect_bitwise_equal(on_gpu.clone().to(Device::cpu()), x);  // device-to-device copy
    }
}

TEST(CudaTensor, StrShowsTheDevice) {
  CXR_REQUIRE_GPU();
  EXPECT_EQ(Tensor::zeros({2, 3}, DType::F32, Device::cuda()).str(), "float32[2, 3] on cuda:0");
}

TEST(CudaTensor, ViewsAtAnOffsetCopyTheirOwnElements) {
  CXR_REQUIRE_GPU();
  Generator gen(5);
  const Tensor x = random_tensor({9, 13}, gen, DType::F32);
  // A CPU slice goes up alone; a GPU slice comes down alone.
  expect_bitwise_equal(x.slice_rows(3, 8).to(Device::cuda()).to(Device::cpu()), x.slice_rows(3, 8));
  const Tensor g = x.to(Device::cuda());
  expect_bitwise_equal(g.slice_rows(2, 3).to(Device::cpu()), x.slice_rows(2, 3));
  expect_bitwise_equal(g.view_of_storage(17, {5, 7}).to(Device::cpu()), x.view_of_storage(17, {5, 7}));
  EXPECT_EQ(g.slice_rows(4, 9).at(6), x.slice_rows(4, 9).at(6));

  // copy_ into a GPU slice writes exactly that range.
  Tensor target = Tensor::zeros({9, 13}, DType::F32, Device::cuda());
  Tensor rows = target.slice_rows(4, 6);
  rows.copy_(x.slice_rows(0, 2));
  const std::vector<double> got = target.to_vector();
  for (std::int64_t r = 0; r < 9; ++r)
    for (std::int64_t c = 0; c < 13; ++c)
      EXPECT_EQ(got[r * 13 + c], r >= 4 && r < 6 ? x.at((r - 4) * 13 + c) : 0.0) << r << ", " << c;
}

TEST(CudaTensor, StridedSourceIsGatheredThroughTheHost) {
  CXR_REQUIRE_GPU();
  Generator gen(6);
  const Tensor x = random_tensor({4, 6}, gen, DType::F64).to(Device::cuda());
  // The transpose as a strided view of the same storage (no op makes one; built by hand).
  auto impl = std::make_shared<TensorImpl>(x.impl());
  impl->shape = {6, 4};
  impl->strides = {1, 6};
  const Tensor xt(impl);
  ASSERT_FALSE(xt.is_contiguous());
  const Tensor copy = xt.contiguous();
  for (std::int64_t i = 0; i < 6; ++i)
    for (std::int64_t j = 0; j < 4; ++j) EXPECT_EQ(copy.at(i * 4 + j), x.at(j * 6 + i));
  expect_close(xt.to(Device::cpu()), copy.to(Device::cpu()), 0, 0);
}

TEST(CudaTensor, DtypeConversionAcrossDevices) {
  CXR_REQUIRE_GPU();
  Generator gen(7);
  const Tensor x64 = random_tensor({5, 11}, gen, DType::F64);
  Tensor g32 = Tensor::empty({5, 11}, DType::F32, Device::cuda());
  g32.copy_(x64);  // cpu f64 -> cuda f32
  expect_bitwise_equal(g32.to(Device::cpu()), x64.to(DType::F32));
  expect_bitwise_equal(g32.to(DType::F64).to(Device::cpu()), x64.to(DType::F32).to(DType::F64));
  Tensor c64 = Tensor::empty({5, 11}, DType::F64);
  c64.copy_(g32);  // cuda f32 -> cpu f64
  expect_bitwise_equal(c64, x64.to(DType::F32).to(DType::F64));
}

TEST(CudaTensor, ZerosFullAndFill) {
  CXR_REQUIRE_GPU();
  for (const DType dtype : {DType::F32, DType::F64})
    for (const Shape& shape : kShapes) {
      expect_close(Tensor::zeros(shape, dtype, Device::cuda()), Tensor::zeros(shape, dtype), 0, 0);
      expect_close(Tensor::full(shape, -2.75, dtype, Device::cuda()), Tensor::full(shape, -2.75, dtype), 0, 0);
      expect_close(Tensor::ones(shape, dtype, Device::cuda()), Tensor::ones(shape, dtype), 0, 0);
      Tensor t = Tensor::empty(shape, dtype, Device::cuda());
      t.fill_(0.1);  // 0.1 rounds differently in float and double: the dtype's value
      expect_bitwise_equal(t, Tensor::full(shape, 0.1, dtype));
    }
  // fill_ of a slice leaves the rest alone.
  Tensor t = Tensor::zeros({6, 3}, DType::F32, Device::cuda());
  t.slice_rows(1, 3).fill_(4.0);
  std::vector<double> expected(18, 0.0);
  for (int i = 3; i < 9; ++i) expected[i] = 4.0;
  EXPECT_EQ(t.to_vector(), expected);
}

TEST(CudaTensor, ElementReadsAndItem) {
  CXR_REQUIRE_GPU();
  const Tensor x = Tensor::from_vector(std::vector<double>{1.5, -2, 3.25}, {3}, DType::F64).to(Device::cuda());
  EXPECT_EQ(x.at(0), 1.5);
  EXPECT_EQ(x.at(2), 3.25);
  EXPECT_EQ(x.to_vector(), (std::vector<double>{1.5, -2, 3.25}));
  EXPECT_EQ(Tensor::full({}, 9.0, DType::F32, Device::cuda()).item(), 9.0);
  expect_error_mentioning([&] { (void)x.at(3); }, {"at(3)", "3 elements"});
}

TEST(CudaTensor, AllocatorReusesFreedBlocks) {
  CXR_REQUIRE_GPU();
  cuda::release_cache();
  EXPECT_EQ(cuda::cached_bytes(), 0u);
  const void* first = nullptr;
  {
    Tensor a = Tensor::empty({1000}, DType::F32, Device::cuda());
    first = a.storage()->data();
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(first) % 256, 0u);
  }
  // 4000 bytes round up to 4096: the freed block is cached and handed out again,
  // also for a slightly different size that rounds the same.
  EXPECT_EQ(cuda::cached_bytes(), 4096u);
  {
    Tensor b = Tensor::empty({1020}, DType::F32, Device::cuda());
    EXPECT_EQ(b.storage()->data(), first);
    EXPECT_EQ(cuda::cached_bytes(), 0u);
  }
  Tensor c = Tensor::empty({10000}, DType::F32, Device::cuda());  // another size: a fresh block
  EXPECT_NE(c.storage()->data(), first);
  cuda::release_cache();
  EXPECT_EQ(cuda::cached_bytes(), 0u);
}

TEST(CudaTensor, PoisonedEmptyAndZeroedStorage) {
  CXR_REQUIRE_GPU();
  // The test environment sets CXR_POISON_EMPTY=1: empty GPU tensors read as NaN
  // until written (a kernel that skips an element is caught), zeros read as 0.
  const char* poison = std::getenv("CXR_POISON_EMPTY");
  if (!poison || poison[0] != '1') GTEST_SKIP() << "CXR_POISON_EMPTY=1 not set (ctest sets it)";
  const Tensor e = Tensor::empty({257}, DType::F32, Device::cuda());
  for (double v : e.to_vector()) EXPECT_TRUE(std::isnan(v));
  for (double v : Tensor::zeros({257}, DType::F32, Device::cuda()).to_vector()) EXPECT_EQ(v, 0.0);
}

TEST(CudaTensor, MixedDevicesAreRejectedNamingBoth) {
  CXR_REQUIRE_GPU();
  const Tensor a = Tensor::zeros({2}, DType::F32, Device::cuda()), b = Tensor::zeros({2});
  expect_error_mentioning(
      [&] {
        check_same_device("conv2d", {&a, &b});
      },
      {"conv2d", "float32[2] on cuda:0", "float32[2] on cpu"});
  expect_error_mentioning([&] { (void)Tensor::zeros({1}).to(Device::cuda(1)); }, {"cuda:1", "cuda:0"});
}

}  // namespace
