#include "engine/tensor.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace cxr;

TEST(Tensor, CreationShapeAndStrides) {
  auto t = Tensor::zeros({2, 3, 4, 5});
  EXPECT_EQ(t.numel(), 120);
  EXPECT_EQ(t.strides(), (Shape{60, 20, 5, 1}));
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.dtype(), DType::F32);
  EXPECT_TRUE(t.device().is_cpu());
  EXPECT_EQ(t.size(-1), 5);
  EXPECT_EQ(t.str(), "float32[2, 3, 4, 5] on cpu");
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data<float>()) % 64, 0u);
}

TEST(Tensor, DataAccessChecksDtype) {
  auto t = Tensor::zeros({3}, DType::F64);
  EXPECT_NO_THROW(t.data<double>());
  EXPECT_THROW(t.data<float>(), Error);
}

TEST(Tensor, ViewsShareStorageAndCopiesDoNot) {
  auto t = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3});
  auto v = t.view({3, 2});
  v.data<float>()[0] = 42;
  EXPECT_EQ(t.at(0), 42);
  auto c = t.clone();
  c.data<float>()[0] = 7;
  EXPECT_EQ(t.at(0), 42);
  auto row = t.slice_rows(1, 2);
  EXPECT_EQ(row.shape(), (Shape{1, 3}));
  EXPECT_EQ(row.at(0), 4);
  EXPECT_THROW(t.view({4, 2}), Error);
  EXPECT_THROW(t.slice_rows(1, 3), Error);
}

TEST(Tensor, DtypeConversionIsExplicit) {
  auto t = Tensor::from_vector(std::vector<double>{0.1, 0.2}, {2}, DType::F64);
  auto f = t.to(DType::F32);
  EXPECT_EQ(f.dtype(), DType::F32);
  EXPECT_FLOAT_EQ(static_cast<float>(f.at(1)), 0.2f);
  EXPECT_TRUE(t.to(DType::F64).same(t));     // no copy when nothing changes
  EXPECT_TRUE(t.to(Device::cpu()).same(t));  // without a GPU, to(cuda) throws: test_cuda_tensor
}

// to_vector and copy_ read a contiguous tensor in one typed pass; it must give what
// at() gives element by element, also for a view that starts inside its storage.
TEST(Tensor, OnePassReadsAndConversionsMatchElementReads) {
  std::vector<double> values;
  for (int i = 0; i < 4 * 7; ++i) values.push_back(std::ldexp(1.0, -i) + i * 0.1);  // not exact in float32
  const Tensor f64 = Tensor::from_vector(values, {4, 7}, DType::F64);
  const Tensor rows = f64.slice_rows(1, 3);  // offset 7 into the storage
  std::vector<double> expected;
  for (std::int64_t i = 0; i < rows.numel(); ++i) expected.push_back(rows.at(i));
  EXPECT_EQ(rows.to_vector(), expected);
  EXPECT_EQ(expected.front(), values[7]);

  Tensor f32 = Tensor::zeros({2, 7}, DType::F32);
  f32.copy_(rows);  // float64 -> float32, rounded to nearest as static_cast
  for (std::int64_t i = 0; i < f32.numel(); ++i)
    EXPECT_EQ(f32.at(i), static_cast<double>(static_cast<float>(expected[static_cast<std::size_t>(i)])));
  Tensor back = Tensor::zeros({2, 7}, DType::F64);
  back.copy_(f32);
  EXPECT_EQ(back.to_vector(), f32.to_vector());
}

TEST(Tensor, RejectsNegativeExtents) {
  EXPECT_THROW(Tensor::zeros({2, -1}), Error);
}

TEST(Tensor, ZeroDimScalar) {
  auto s = Tensor::full({}, 3.5);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.item(), 3.5);
  EXPECT_THROW(Tensor::zeros({2}).item(), Error);
}
