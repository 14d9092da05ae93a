// Helpers of the CUDA tests: skipping where no GPU can run them, seeded random
// tensors on any device, tensor comparison as atol + rtol*|ref|, and canary
// buffers that catch kernels writing outside their output.
//
// Every CUDA test starts with CXR_REQUIRE_GPU(): without the backend or a GPU the
// test is reported as skipped, with the reason, never as passed.
#pragma once

#include "gradcheck.h"

#include "engine/tensor.h"
#include "kernels/cuda/runtime.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>

#define CXR_REQUIRE_GPU()                                                        \
  do {                                                                           \
    if (!::cxr::cuda::compiled()) GTEST_SKIP() << "CUDA backend not compiled";   \
    if (::cxr::cuda::device_count() == 0) GTEST_SKIP() << "no CUDA GPU visible"; \
  } while (0)

namespace cxr::testing {

// Uniform in [lo, hi) from `seed`, built on the CPU and copied to `device`.
inline Tensor random_on(Device device, const Shape& shape, std::uint64_t seed, DType dtype = DType::F32,
                        double lo = -1.0, double hi = 1.0) {
  Generator gen(seed);
  return random_tensor(shape, gen, dtype, lo, hi).to(device);
}

// Small integers in [lo, hi] from `seed` on `device`: sums of products stay exact.
inline Tensor random_int_on(Device device, const Shape& shape, std::uint64_t seed, int lo, int hi,
                            DType dtype = DType::F32) {
  Generator gen(seed);
  return random_int_tensor(shape, gen, lo, hi, dtype).to(device);
}

// Every element: |actual - expected| <= atol + rtol*|expected| (so atol = rtol = 0
// asks for equality); tensors on any device, compared on the CPU. NaN or inf in
// `actual` where `expected` is finite is a failure. Reports the number of
// mismatches, the worst one and the first few.
inline void expect_close(const Tensor& actual, const Tensor& expected, double atol, double rtol) {
  ASSERT_EQ(actual.shape(), expected.shape()) << actual.str() << " vs " << expected.str();
  const std::vector<double> a = actual.to_vector(), e = expected.to_vector();
  std::int64_t bad = 0, worst = -1;
  double worst_excess = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double limit = atol + rtol * std::abs(e[i]);
    const double err = std::abs(a[i] - e[i]);
    const bool ok = std::isfinite(e[i]) ? (std::isfinite(a[i]) && err <= limit)
                                        : (a[i] == e[i] || (std::isnan(a[i]) && std::isnan(e[i])));
    if (ok) continue;
    if (bad < 5)
      ADD_FAILURE() << "element " << i << " of " << actual.str() << ": " << a[i] << " vs expected " << e[i]
                    << " (allowed " << limit << ")";
    ++bad;
    const double excess = std::isfinite(err) ? err - limit : INFINITY;
    if (worst < 0 || excess > worst_excess) worst = static_cast<std::int64_t>(i), worst_excess = excess;
  }
  EXPECT_EQ(bad, 0) << bad << " of " << a.size() << " elements differ; worst at " << worst << ": "
                    << (worst >= 0 ? a[worst] : 0.0) << " vs " << (worst >= 0 ? e[worst] : 0.0);
}

// Bit-for-bit equality of two tensors (same dtype), on any devices.
inline void expect_bitwise_equal(const Tensor& actual, const Tensor& expected) {
  ASSERT_EQ(actual.shape(), expected.shape()) << actual.str() << " vs " << expected.str();
  ASSERT_EQ(actual.dtype(), expected.dtype()) << actual.str() << " vs " << expected.str();
  const Tensor a = actual.to(Device::cpu()).contiguous(), e = expected.to(Device::cpu()).contiguous();
  const std::size_t bytes = static_cast<std::size_t>(a.numel()) * dtype_size(a.dtype());
  const auto* pa = static_cast<const unsigned char*>(a.storage()->data()) + a.offset() * dtype_size(a.dtype());
  const auto* pe = static_cast<const unsigned char*>(e.storage()->data()) + e.offset() * dtype_size(e.dtype());
  EXPECT_EQ(std::memcmp(pa, pe, bytes), 0) << actual.str() << " differs from " << expected.str() << " in its bits";
}

// Runs f on `inputs` (CPU tensors; those with requires_grad get gradients) and on
// GPU copies of them, and compares the outputs and the gradients of sum(out * R)
// with expect_close(atol, rtol). R holds random small integers, so with integer
// inputs and exact weights every gradient is exact in any summation order. Also
// checks that the GPU output and gradients live on the GPU.
inline void expect_cuda_matches_cpu(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                    const std::vector<Tensor>& inputs, double atol, double rtol,
                                    std::uint64_t seed = 1) {
  std::vector<Tensor> cpu, gpu;
  for (const Tensor& t : inputs) {
    ASSERT_TRUE(t.device().is_cpu()) << "inputs are given on the cpu";
    cpu.push_back(t.detach().clone());
    gpu.push_back(t.detach().to(Device::cuda()));
    if (t.requires_grad()) {
      cpu.back().set_requires_grad();
      gpu.back().set_requires_grad();
    }
  }
  const Tensor out_cpu = f(cpu);
  const Tensor out_gpu = f(gpu);
  ASSERT_TRUE(out_gpu.device().is_cuda()) << "output " << out_gpu.str();
  {
    SCOPED_TRACE("forward");
    expect_close(out_gpu, out_cpu, atol, rtol);
  }
  if (!out_cpu.requires_grad()) return;
  Generator gen(seed);
  const Tensor R = random_int_tensor(out_cpu.shape(), gen, -4, 4, out_cpu.dtype());
  out_cpu.backward(R);
  out_gpu.backward(R.to(Device::cuda()));
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    if (!inputs[k].requires_grad()) continue;
    SCOPED_TRACE("gradient of input " + std::to_string(k));
    ASSERT_TRUE(gpu[k].grad().defined());
    EXPECT_TRUE(gpu[k].grad().device().is_cuda());
    expect_close(gpu[k].grad(), cpu[k].grad(), atol, rtol);
  }
}

// A device array of n elements with `pad` sentinel elements on each side: data()
// points at the n; expect_canaries_intact() fails when a kernel wrote into a pad.
// The n are filled with 0xFF bytes (NaN) so an element a kernel forgot to write
// shows up in the results. pad = 64 keeps data() 256-byte aligned for float and
// double, as tensors' storage is.
template <class T>
class CanaryBuffer {
 public:
  static constexpr unsigned char kSentinel = 0xA5;

  explicit CanaryBuffer(std::int64_t n, std::int64_t pad = 64) : n_(n), pad_(pad) {
    base_ = static_cast<T*>(cuda::device_alloc(bytes()));
    cuda::fill_bytes(base_, kSentinel, static_cast<std::size_t>(pad_) * sizeof(T));
    cuda::fill_bytes(base_ + pad_, 0xFF, static_cast<std::size_t>(n_) * sizeof(T));
    cuda::fill_bytes(base_ + pad_ + n_, kSentinel, static_cast<std::size_t>(pad_) * sizeof(T));
  }
  explicit CanaryBuffer(const std::vector<T>& values, std::int64_t pad = 64)
      : CanaryBuffer(static_cast<std::int64_t>(values.size()), pad) {
    upload(values);
  }
  ~CanaryBuffer() { cuda::device_free(base_, bytes()); }
  CanaryBuffer(const CanaryBuffer&) = delete;
  CanaryBuffer& operator=(const CanaryBuffer&) = delete;

  T* data() { return base_ + pad_; }
  std::int64_t size() const { return n_; }

  void upload(const std::vector<T>& values) {
    ASSERT_EQ(static_cast<std::int64_t>(values.size()), n_);
    cuda::copy_bytes(data(), true, values.data(), false, values.size() * sizeof(T));
  }
  std::vector<T> download() {
    std::vector<T> out(static_cast<std::size_t>(n_));
    cuda::copy_bytes(out.data(), false, data(), true, out.size() * sizeof(T));
    return out;
  }

  void expect_canaries_intact() {
    std::vector<unsigned char> all(bytes());
    cuda::copy_bytes(all.data(), false, base_, true, all.size());
    const std::size_t pad_bytes = static_cast<std::size_t>(pad_) * sizeof(T);
    const std::size_t back = pad_bytes + static_cast<std::size_t>(n_) * sizeof(T);
    std::int64_t front_hits = 0, back_hits = 0;
    for (std::size_t i = 0; i < pad_bytes; ++i) {
      front_hits += all[i] != kSentinel;
      back_hits += all[back + i] != kSentinel;
    }
    EXPECT_EQ(front_hits, 0) << "bytes overwritten before the start of a buffer of " << n_ << " elements";
    EXPECT_EQ(back_hits, 0) << "bytes overwritten after the end of a buffer of " << n_ << " elements";
  }

 private:
  std::size_t bytes() const { return static_cast<std::size_t>(n_ + 2 * pad_) * sizeof(T); }
  std::int64_t n_, pad_;
  T* base_ = nullptr;
};

}  // namespace cxr::testing
