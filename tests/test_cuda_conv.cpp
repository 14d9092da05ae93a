// conv2d and conv2d_relu on the GPU against the CPU, on every path (pointwise,
// depthwise 3x3 tiled and per-output, implicit GEMM) and the awkward shapes: odd
// sizes, 1x1 maps, batch 1, channels not a multiple of 32, stride 2 on odd inputs,
// groups, padding beyond the kernel, multi-tile and split-K products.
//   * op level, forward and every gradient: float32 within the worst-case rounding
//     bound of the exact result (float64 against the CPU op and float32 exact on
//     small integers, with and without the fused ReLU, run from the op registry:
//     tests/ops/conv.cpp);
//   * kernel level: the launchers on buffers with canaries around every output,
//     the dispatcher and the implicit-GEMM path forced, gradients skipped when not
//     asked (with the unused input null);
//   * bit-identical results run to run, and the device-mismatch error.
// Without a GPU every test is skipped with the reason.
#include "cuda_parity.h"
#include "cuda_testing.h"
#include "expect_error.h"
#include "ops/conv_cases.h"

#include "engine/ops.h"
#include "kernels/cpu/conv2d.h"

#ifdef CXR_HAVE_CUDA
#include "kernels/cuda/conv2d.h"
#endif

#include <algorithm>
#include <cmath>
#include <string>

using namespace cxr;
using cxr::testing::expect_bitwise_equal;
using cxr::testing::expect_close;
using cxr::testing::OpResults;
using cxr::testing::run_op_on;

namespace {

const Device kGpu = Device::cuda();

using ConvCase = cxr::testing::Conv;

// The GPU cases, shared with the op registry's CudaParity.conv2d / conv2d_relu.
const std::vector<ConvCase>& kCases = cxr::testing::kDeviceConvs;

Conv2dShape shape_of(const ConvCase& c) {
  return conv2d_shape(c.N, c.C_in, c.H, c.W, c.C_out, c.K, c.stride, c.padding, c.groups);
}

// x, weight, bias (undefined without), all requiring gradients.
std::vector<Tensor> conv_inputs(const ConvCase& c, Generator& gen, DType dtype, bool ints) {
  auto make = [&](const Shape& shape) {
    return ints ? cxr::testing::random_int_tensor(shape, gen, -2, 2, dtype)
                : cxr::testing::random_tensor(shape, gen, dtype);
  };
  std::vector<Tensor> in = {make({c.N, c.C_in, c.H, c.W}).set_requires_grad(),
                            make({c.C_out, c.C_in / c.groups, c.K, c.K}).set_requires_grad()};
  in.push_back(c.bias ? make({c.C_out}).set_requires_grad() : Tensor());
  return in;
}

cxr::testing::Function conv_op(const ConvCase& c) {
  return [opt = c.options()](const std::vector<Tensor>& in) {
    return conv2d(in[0], in[1], in[2], opt);
  };
}

Shape output_shape(const ConvCase& c) {
  const Conv2dShape s = shape_of(c);
  return {s.N, s.C_out, s.H_out, s.W_out};
}

std::vector<Tensor> magnitudes(const std::vector<Tensor>& in) {
  std::vector<Tensor> out;
  for (const Tensor& t : in) {
    if (!t.defined()) {
      out.push_back(t);
      continue;
    }
    std::vector<double> v = t.to_vector();
    for (double& x : v) x = std::abs(x);
    out.push_back(Tensor::from_vector(v, t.shape(), t.dtype()).set_requires_grad(t.requires_grad()));
  }
  return out;
}

// float32 on the GPU against the exact result (the CPU op in float64 on the same
// float32 values): |error| <= (n + 2) 2^-24 S per element (Higham 3.1), S the sum
// of the magnitudes of its terms (the CPU op on |x|, |w|, |b| and |dy|), n the
// longest sum of the case (the forward's C_in/G*K*K + 1, dx's C_out/G*K*K, the
// weight and bias gradients' N*H_out*W_out; with split-K a term passes through at
// most K_s + S - 1 <= n roundings, K_s the length of its range, S the splits).
TEST(CudaConv2d, Float32WithinTheRoundingBoundOfTheExactResult) {
  CXR_REQUIRE_GPU();
  Generator gen(41);
  const double u = std::ldexp(1.0, -24);
  for (const ConvCase& c : kCases) {
    SCOPED_TRACE(c.name);
    const Conv2dShape s = shape_of(c);
    const double n = static_cast<double>(
        std::max({s.C_in / s.groups * s.K * s.K + 1, s.C_out / s.groups * s.K * s.K, s.N * s.H_out * s.W_out}));
    std::vector<Tensor> in32 = conv_inputs(c, gen, DType::F32, false), in64;
    for (const Tensor& t : in32) in64.push_back(t.defined() ? t.to(DType::F64).set_requires_grad() : t);
    const Tensor seed32 = cxr::testing::random_tensor(output_shape(c), gen, DType::F32), seed64 = seed32.to(DType::F64);
    const OpResults gpu = run_op_on(kGpu, conv_op(c), in32, seed32);
    const OpResults exact = run_op_on(Device::cpu(), conv_op(c), in64, seed64);
    const OpResults size = run_op_on(Device::cpu(), conv_op(c), magnitudes(in64), magnitudes({seed64})[0]);
    auto expect_within = [&](const Tensor& got, const Tensor& want, const Tensor& magnitude, const char* what) {
      const std::vector<double> g = got.to_vector(), w = want.to_vector(), m = magnitude.to_vector();
      for (std::size_t i = 0; i < g.size(); ++i)
        ASSERT_NEAR(g[i], w[i], (n + 2) * u * m[i] + 1e-30) << what << " element " << i;
    };
    expect_within(gpu.out, exact.out, size.out, "y");
    for (std::size_t i = 0; i < gpu.grads.size(); ++i)
      if (gpu.grads[i].defined()) expect_within(gpu.grads[i], exact.grads[i], size.grads[i], "gradient");
  }
}

// Weight gradients are split across blocks and reduced in a fixed order; the same
// inputs must give the same bits (split-K GEMM, depthwise partials, bias sums).
TEST(CudaConv2d, BitIdenticalRunToRun) {
  CXR_REQUIRE_GPU();
  Generator gen(43);
  for (const ConvCase& c : {kCases[0], kCases[3], kCases[4], kCases.back()}) {
    SCOPED_TRACE(c.name);
    const std::vector<Tensor> in = conv_inputs(c, gen, DType::F32, false);
    const Tensor seed = cxr::testing::random_tensor(output_shape(c), gen, DType::F32);
    const OpResults a = run_op_on(kGpu, conv_op(c), in, seed), b = run_op_on(kGpu, conv_op(c), in, seed);
    expect_bitwise_equal(a.out, b.out);
    for (std::size_t i = 0; i < a.grads.size(); ++i)
      if (a.grads[i].defined()) expect_bitwise_equal(a.grads[i], b.grads[i]);
  }
}

TEST(CudaConv2d, InputsOnTwoDevicesAreRefused) {
  CXR_REQUIRE_GPU();
  const Tensor x = Tensor::zeros({1, 3, 8, 8}, DType::F32, kGpu), w = Tensor::zeros({4, 3, 3, 3});
  cxr::testing::expect_error_mentioning([&] { (void)conv2d(x, w, Tensor(), {}); },
                                        {"conv2d", "different devices", "cuda:0", "cpu"});
}

#ifdef CXR_HAVE_CUDA

std::vector<float> host_ints(std::int64_t n, Generator& gen) {
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = static_cast<float>(static_cast<int>(gen.below(5)) - 2);
  return v;
}

using ForwardFn = void (*)(float*, const float*, const float*, const float*, const Conv2dShape&, bool);
using BackwardFn = void (*)(float*, float*, float*, const float*, const float*, const float*, const Conv2dShape&);

// The launchers straight on device buffers, on small integers (exact), outputs
// surrounded by canaries; all gradients, then each alone with the input it does
// not need passed as null.
void expect_launchers_exact(const ConvCase& c, ForwardFn forward, BackwardFn backward, Generator& gen) {
  const Conv2dShape s = shape_of(c);
  const std::int64_t nx = s.N * s.C_in * s.H * s.W, nw = s.C_out * s.C_in / s.groups * s.K * s.K;
  const std::int64_t ny = s.N * s.C_out * s.H_out * s.W_out, nb = s.C_out;
  const std::vector<float> x = host_ints(nx, gen), w = host_ints(nw, gen), b = host_ints(nb, gen),
                           dy = host_ints(ny, gen);
  const float* bias = c.bias ? b.data() : nullptr;
  std::vector<float> y_ref(ny), dx_ref(nx), dw_ref(nw), db_ref(nb);
  cpu::conv2d_forward_reference(y_ref.data(), x.data(), w.data(), bias, s);
  cpu::conv2d_backward_reference(dx_ref.data(), dw_ref.data(), db_ref.data(), dy.data(), x.data(), w.data(), s);
  std::vector<float> y_relu = y_ref;
  for (float& v : y_relu) v = v > 0 ? v : 0.0f;

  cxr::testing::CanaryBuffer<float> xd(x), wd(w), bd(b), dyd(dy);
  for (bool relu : {false, true}) {
    SCOPED_TRACE(relu ? "forward with ReLU" : "forward");
    cxr::testing::CanaryBuffer<float> y(ny);
    forward(y.data(), xd.data(), wd.data(), c.bias ? bd.data() : nullptr, s, relu);
    y.expect_canaries_intact();
    EXPECT_EQ(y.download(), relu ? y_relu : y_ref);
  }
  {
    SCOPED_TRACE("backward, every gradient");
    cxr::testing::CanaryBuffer<float> dx(nx), dw(nw), db(nb);
    backward(dx.data(), dw.data(), db.data(), dyd.data(), xd.data(), wd.data(), s);
    dx.expect_canaries_intact();
    dw.expect_canaries_intact();
    db.expect_canaries_intact();
    EXPECT_EQ(dx.download(), dx_ref);
    EXPECT_EQ(dw.download(), dw_ref);
    EXPECT_EQ(db.download(), db_ref);
  }
  {
    SCOPED_TRACE("backward, weight gradient alone (no weight)");
    cxr::testing::CanaryBuffer<float> dw(nw);
    backward(nullptr, dw.data(), nullptr, dyd.data(), xd.data(), nullptr, s);
    dw.expect_canaries_intact();
    EXPECT_EQ(dw.download(), dw_ref);
  }
  {
    SCOPED_TRACE("backward, input gradient alone (no input)");
    cxr::testing::CanaryBuffer<float> dx(nx);
    backward(dx.data(), nullptr, nullptr, dyd.data(), nullptr, wd.data(), s);
    dx.expect_canaries_intact();
    EXPECT_EQ(dx.download(), dx_ref);
  }
}

TEST(CudaConv2dKernels, LaunchersExactWithCanariesOnEveryPath) {
  CXR_REQUIRE_GPU();
  Generator gen(44);
  for (const ConvCase& c : kCases) {
    SCOPED_TRACE(c.name);
    {
      SCOPED_TRACE("dispatcher");
      expect_launchers_exact(c, cuda::conv2d_forward<float>, cuda::conv2d_backward<float>, gen);
    }
    {
      SCOPED_TRACE("implicit GEMM forced");
      expect_launchers_exact(c, cuda::conv2d_implicit_gemm_forward<float>, cuda::conv2d_implicit_gemm_backward<float>,
                             gen);
    }
  }
}

#endif  // CXR_HAVE_CUDA

}  // namespace
