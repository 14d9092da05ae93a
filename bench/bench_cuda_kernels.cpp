// CUDA kernel benchmarks: CXR's hand-written kernels next to measured ceilings and
// library baselines on the same GPU, in the same run.
//
// Ceilings (measured first, reported in every row as ceil_*):
//   copy       cudaMemcpyAsync device to device of 512 MiB (bytes read + written)
//   SGEMM      cuBLAS FP32 4096^3 (default math: no tensor cores)
//   TF32 GEMM  cuBLAS 4096^3 with CUBLAS_COMPUTE_32F_FAST_TF32
// Baselines: cuDNN forward convolutions of the cxr-small layer shapes (batch 128 at
// 224 x 224, FP32 math: CUDNN_FMA_MATH, the fastest algorithm cuDNN's heuristics
// offer), when cuDNN was found at configure time.
// CXR rows: GEMM (FP32, TF32), the cxr-small convolutions (stem, depthwise,
// pointwise; forward and backward) through the launchers, and batch norm, pooling,
// softmax and AdamW through the ops (outputs from the caching allocator).
//
// Every row is the median of 30 samples of CUDA-event time (bench/cuda_timing.h),
// with GB/s and GFLOP/s next to the ceilings and pct_roofline, the share of the
// roofline bound reached. Bytes count each tensor read or written once (the
// minimum traffic); FLOPs count a multiply-add as 2.
#include "bench/cuda_timing.h"

#include "engine/autograd.h"
#include "engine/nn/module.h"
#include "engine/ops.h"
#include "engine/optim/adamw.h"
#include "engine/random.h"
#include "kernels/cuda/conv2d.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/runtime.h"
#include "models/net_config.h"

#include <cublas_v2.h>
#ifdef CXR_HAVE_CUDNN
#include <cudnn.h>
#endif

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace {

using namespace cxr;
using bench::GpuTiming;
using bench::report_roofline;
using bench::time_gpu;

#define CXR_CUBLAS_CHECK(call)                                                                               \
  do {                                                                                                       \
    const cublasStatus_t st = (call);                                                                        \
    if (st != CUBLAS_STATUS_SUCCESS) throw Error(fmt::format("{} failed: {}", #call, static_cast<int>(st))); \
  } while (0)

const Device kGpu = Device::cuda();

// Uniform in [-1, 1): a random block of up to 1 Mi values made on the host, copied
// to the GPU and repeated there (the values only need to be ordinary floats).
Tensor gpu_random(const Shape& shape, std::uint64_t seed) {
  Tensor t = Tensor::empty(shape, DType::F32, kGpu);
  const std::int64_t n = t.numel(), block = std::min<std::int64_t>(n, 1 << 20);
  Generator gen(seed);
  std::vector<float> host(static_cast<std::size_t>(block));
  for (float& v : host) v = static_cast<float>(gen.uniform() * 2 - 1);
  float* dst = t.data<float>();
  cuda::copy_bytes(dst, true, host.data(), false, host.size() * sizeof(float));
  for (std::int64_t done = block; done < n; done += block)
    CXR_CUDA_CHECK(cudaMemcpyAsync(dst + done, dst, std::min(block, n - done) * sizeof(float), cudaMemcpyDeviceToDevice,
                                   cuda::stream()));
  return t;
}

cublasHandle_t cublas() {
  static cublasHandle_t handle = [] {
    cublasHandle_t h = nullptr;
    CXR_CUBLAS_CHECK(cublasCreate(&h));
    CXR_CUBLAS_CHECK(cublasSetStream(h, cuda::stream()));
    return h;
  }();
  return handle;
}

// Row-major C[M x N] = A[M x K] B[K x N] through column-major cuBLAS: C^T = B^T A^T.
void cublas_gemm(bool tf32, std::int64_t M, std::int64_t N, std::int64_t K, const float* A, const float* B, float* C) {
  const float alpha = 1, beta = 0;
  const int m = static_cast<int>(M), n = static_cast<int>(N), k = static_cast<int>(K);
  if (!tf32) {
    CXR_CUBLAS_CHECK(cublasSgemm(cublas(), CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, &alpha, B, n, A, k, &beta, C, n));
    return;
  }
  CXR_CUBLAS_CHECK(cublasGemmEx(cublas(), CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, &alpha, B, CUDA_R_32F, n, A, CUDA_R_32F, k,
                                &beta, C, CUDA_R_32F, n, CUBLAS_COMPUTE_32F_FAST_TF32, CUBLAS_GEMM_DEFAULT));
}

constexpr std::int64_t kGemmSide = 4096;

struct Ceilings {
  double copy_gbps = 0, sgemm_gflops = 0, tf32_gflops = 0;
};

GpuTiming time_copy(std::int64_t elements) {
  const Tensor src = Tensor::zeros({elements}, DType::F32, kGpu);
  Tensor dst = Tensor::empty({elements}, DType::F32, kGpu);
  const std::size_t bytes = static_cast<std::size_t>(elements) * sizeof(float);
  return time_gpu([&] {
    CXR_CUDA_CHECK(
        cudaMemcpyAsync(dst.data<float>(), src.data<float>(), bytes, cudaMemcpyDeviceToDevice, cuda::stream()));
  });
}

GpuTiming time_cublas_gemm(bool tf32, std::int64_t side) {
  const Tensor A = gpu_random({side, side}, 1), B = gpu_random({side, side}, 2);
  Tensor C = Tensor::empty({side, side}, DType::F32, kGpu);
  return time_gpu([&] { cublas_gemm(tf32, side, side, side, A.data<float>(), B.data<float>(), C.data<float>()); });
}

constexpr std::int64_t kCopyElements = std::int64_t{128} << 20;  // 512 MiB

double gemm_flops(std::int64_t side) {
  return 2.0 * side * side * side;
}

const Ceilings& ceilings() {
  static const Ceilings c = [] {
    Ceilings out;
    out.copy_gbps = 2.0 * kCopyElements * sizeof(float) / time_copy(kCopyElements).median_s * 1e-9;
    out.sgemm_gflops = gemm_flops(kGemmSide) / time_cublas_gemm(false, kGemmSide).median_s * 1e-9;
    out.tf32_gflops = gemm_flops(kGemmSide) / time_cublas_gemm(true, kGemmSide).median_s * 1e-9;
    std::fprintf(stderr, "measured ceilings: copy %.0f GB/s, cuBLAS SGEMM %.0f GFLOP/s, cuBLAS TF32 %.0f GFLOP/s\n",
                 out.copy_gbps, out.sgemm_gflops, out.tf32_gflops);
    return out;
  }();
  return c;
}

// ---- ceilings and cuBLAS --------------------------------------------------------------

void BM_CopyD2D(benchmark::State& state) {
  report_roofline(state, time_copy(kCopyElements), 2.0 * kCopyElements * sizeof(float), 0, ceilings().copy_gbps, 0);
}
BENCHMARK(BM_CopyD2D)->UseManualTime()->Iterations(1)->Unit(benchmark::kMicrosecond);

void BM_CublasSgemm(benchmark::State& state) {
  report_roofline(state, time_cublas_gemm(false, kGemmSide), 0, gemm_flops(kGemmSide), 0, ceilings().sgemm_gflops);
}
BENCHMARK(BM_CublasSgemm)->UseManualTime()->Iterations(1)->Unit(benchmark::kMicrosecond);

void BM_CublasTf32(benchmark::State& state) {
  report_roofline(state, time_cublas_gemm(true, kGemmSide), 0, gemm_flops(kGemmSide), 0, ceilings().tf32_gflops);
}
BENCHMARK(BM_CublasTf32)->UseManualTime()->Iterations(1)->Unit(benchmark::kMicrosecond);

// ---- CXR GEMM ---------------------------------------------------------------------------

void BM_CxrGemm(benchmark::State& state) {
  const bool tf32 = state.range(0) == 1;
  const std::int64_t side = kGemmSide;
  const Tensor A = gpu_random({side, side}, 1), B = gpu_random({side, side}, 2);
  Tensor C = Tensor::empty({side, side}, DType::F32, kGpu);
  const auto math = tf32 ? cuda::GemmMath::Tf32 : cuda::GemmMath::Fp32;
  const GpuTiming t = time_gpu([&] {
    cuda::gemm<float>(false, false, side, side, side, 1.0f, A.data<float>(), side, B.data<float>(), side, 0.0f,
                      C.data<float>(), side, {}, math);
  });
  report_roofline(state, t, 0, gemm_flops(side), 0, tf32 ? ceilings().tf32_gflops : ceilings().sgemm_gflops);
  state.SetLabel(tf32 ? "TF32 4096^3" : "FP32 4096^3");
}
BENCHMARK(BM_CxrGemm)->Arg(0)->Arg(1)->UseManualTime()->Iterations(1)->Unit(benchmark::kMicrosecond);

// ---- convolutions of cxr-small, batch 128 at 224 x 224 -----------------------------------

constexpr std::int64_t kBatch = 128;

// The layers timed: the stem, and the depthwise and pointwise convolutions of
// blocks 0 (112 x 112, few channels), 1 (stride 2), 4 (28 x 28) and 7 (14 x 14, 512).
struct Layer {
  const char* name;
  Conv2dShape s;
};

std::vector<Layer> layers() {
  auto shape = [](std::int64_t C_in, std::int64_t H, std::int64_t C_out, std::int64_t K, std::int64_t stride,
                  std::int64_t groups) {
    return conv2d_shape(kBatch, C_in, H, H, C_out, K, stride, K == 3 ? 1 : 0, groups);
  };
  return {{"stem 1->32 3x3 s2 @224", shape(1, 224, 32, 3, 2, 1)}, {"b0 dw 32 @112", shape(32, 112, 32, 3, 1, 32)},
          {"b0 pw 32->64 @112", shape(32, 112, 64, 1, 1, 1)},     {"b1 dw 64 s2 @112", shape(64, 112, 64, 3, 2, 64)},
          {"b1 pw 64->128 @56", shape(64, 56, 128, 1, 1, 1)},     {"b4 dw 256 @28", shape(256, 28, 256, 3, 1, 256)},
          {"b4 pw 256->256 @28", shape(256, 28, 256, 1, 1, 1)},   {"b7 dw 512 @14", shape(512, 14, 512, 3, 1, 512)},
          {"b7 pw 512->512 @14", shape(512, 14, 512, 1, 1, 1)}};
}

struct ConvTensors {
  Tensor x, w, y, dy, dx, dw;
  explicit ConvTensors(const Conv2dShape& s)
      : x(gpu_random({s.N, s.C_in, s.H, s.W}, 3)),
        w(gpu_random({s.C_out, s.C_in / s.groups, s.K, s.K}, 4)),
        y(Tensor::empty({s.N, s.C_out, s.H_out, s.W_out}, DType::F32, kGpu)),
        dy(gpu_random({s.N, s.C_out, s.H_out, s.W_out}, 5)),
        dx(Tensor::empty({s.N, s.C_in, s.H, s.W}, DType::F32, kGpu)),
        dw(Tensor::empty({s.C_out, s.C_in / s.groups, s.K, s.K}, DType::F32, kGpu)) {}
};

double conv_flops(const Conv2dShape& s) {
  return 2.0 * s.N * s.C_out * s.H_out * s.W_out * (s.C_in / s.groups) * s.K * s.K;
}
double conv_forward_bytes(const Conv2dShape& s) {
  return 4.0 *
         (s.N * s.C_in * s.H * s.W + s.N * s.C_out * s.H_out * s.W_out + s.C_out * (s.C_in / s.groups) * s.K * s.K);
}

void BM_CxrConvForward(benchmark::State& state) {
  const Layer layer = layers()[state.range(0)];
  ConvTensors t(layer.s);
  const GpuTiming timing = time_gpu(
      [&] { cuda::conv2d_forward<float>(t.y.data<float>(), t.x.data<float>(), t.w.data<float>(), nullptr, layer.s); });
  report_roofline(state, timing, conv_forward_bytes(layer.s), conv_flops(layer.s), ceilings().copy_gbps,
                  ceilings().sgemm_gflops);
  state.SetLabel(layer.name);
}
BENCHMARK(BM_CxrConvForward)->DenseRange(0, 8)->UseManualTime()->Iterations(1)->Unit(benchmark::kMicrosecond);

// dx and dweight: twice the forward's FLOPs; reads dy, x and w, writes dx and dw.
void BM_CxrConvBackward(benchmark::State& state) {
  const Layer layer = layers()[state.range(0)];
  ConvTensors t(layer.s);
  const GpuTiming timing = time_gpu([&] {
    cuda::conv2d_backward<float>(t.dx.data<float>(), t.dw.data<float>(), nullptr, t.dy.data<float>(), t.x.data<float>(),
                                 t.w.data<float>(), layer.s);
  });
  const double bytes =
      conv_forward_bytes(layer.s) + 4.0 * (layer.s.N * layer.s.C_in * layer.s.H * layer.s.W + t.w.numel());
  report_roofline(state, timing, bytes, 2 * conv_flops(layer.s), ceilings().copy_gbps, ceilings().sgemm_gflops);
  state.SetLabel(layer.name);
}
BENCHMARK(BM_CxrConvBackward)->DenseRange(0, 8)->UseManualTime()->Iterations(1)->Unit(benchmark::kMicrosecond);

#ifdef CXR_HAVE_CUDNN
#define CXR_CUDNN_CHECK(call)                                                                                  \
  do {                                                                                                         \
    const cudnnStatus_t st = (call);                                                                           \
    if (st != CUDNN_STATUS_SUCCESS) throw Error(fmt::format("{} failed: {}", #call, cudnnGetErrorString(st))); \
  } while (0)

cudnnHandle_t cudnn() {
  static cudnnHandle_t handle = [] {
    cudnnHandle_t h = nullptr;
    CXR_CUDNN_CHECK(cudnnCreate(&h));
    CXR_CUDNN_CHECK(cudnnSetStream(h, cuda::stream()));
    return h;
  }();
  return handle;
}

void BM_CudnnConvForward(benchmark::State& state) {
  const Layer layer = layers()[state.range(0)];
  const Conv2dShape& s = layer.s;
  ConvTensors t(s);
  cudnnTensorDescriptor_t xd, yd;
  cudnnFilterDescriptor_t wd;
  cudnnConvolutionDescriptor_t cd;
  CXR_CUDNN_CHECK(cudnnCreateTensorDescriptor(&xd));
  CXR_CUDNN_CHECK(cudnnCreateTensorDescriptor(&yd));
  CXR_CUDNN_CHECK(cudnnCreateFilterDescriptor(&wd));
  CXR_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&cd));
  auto i = [](std::int64_t v) {
    return static_cast<int>(v);
  };
  CXR_CUDNN_CHECK(
      cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, i(s.N), i(s.C_in), i(s.H), i(s.W)));
  CXR_CUDNN_CHECK(
      cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, i(s.N), i(s.C_out), i(s.H_out), i(s.W_out)));
  CXR_CUDNN_CHECK(cudnnSetFilter4dDescriptor(wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, i(s.C_out), i(s.C_in / s.groups),
                                             i(s.K), i(s.K)));
  CXR_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(cd, i(s.padding), i(s.padding), i(s.stride), i(s.stride), 1, 1,
                                                  CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
  CXR_CUDNN_CHECK(cudnnSetConvolutionGroupCount(cd, i(s.groups)));
  CXR_CUDNN_CHECK(cudnnSetConvolutionMathType(cd, CUDNN_FMA_MATH));  // FP32, no TF32 tensor cores
  // Time every algorithm the heuristics offer once (cudnnFind), keep the fastest.
  int found = 0;
  cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
  CXR_CUDNN_CHECK(
      cudnnFindConvolutionForwardAlgorithm(cudnn(), xd, wd, cd, yd, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &found, perf));
  int best = -1;
  for (int k = 0; k < found && best < 0; ++k)
    if (perf[k].status == CUDNN_STATUS_SUCCESS) best = k;
  if (best < 0) {
    state.SkipWithError("cuDNN offers no algorithm for this shape");
    return;
  }
  const std::size_t ws_bytes = perf[best].memory;
  Tensor workspace = Tensor::empty({static_cast<std::int64_t>(ws_bytes / sizeof(float) + 1)}, DType::F32, kGpu);
  const float alpha = 1, beta = 0;
  const GpuTiming timing = time_gpu([&] {
    CXR_CUDNN_CHECK(cudnnConvolutionForward(cudnn(), &alpha, xd, t.x.data<float>(), wd, t.w.data<float>(), cd,
                                            perf[best].algo, workspace.data<float>(), ws_bytes, &beta, yd,
                                            t.y.data<float>()));
  });
  report_roofline(state, timing, conv_forward_bytes(s), conv_flops(s), ceilings().copy_gbps, ceilings().sgemm_gflops);
  state.SetLabel(fmt::format("{} (algo {})", layer.name, static_cast<int>(perf[best].algo)));
  cudnnDestroyConvolutionDescriptor(cd);
  cudnnDestroyFilterDescriptor(wd);
  cudnnDestroyTensorDescriptor(yd);
  cudnnDestroyTensorDescriptor(xd);
}
BENCHMARK(BM_CudnnConvForward)->DenseRange(0, 8)->UseManualTime()->Iterations(1)->Unit(benchmark::kMicrosecond);
#endif

// ---- batch norm, pooling, softmax, AdamW (through the ops, no graph) ----------------------

// Training-mode batch norm + ReLU forward: two passes over x (statistics, then
// normalise), one write of y.
void BM_CxrBatchNormRelu(benchmark::State& state) {
  const std::int64_t C = state.range(0), H = state.range(1);
  const Tensor x = gpu_random({kBatch, C, H, H}, 6);
  const Tensor gamma = Tensor::ones({C}, DType::F32, kGpu), beta = Tensor::zeros({C}, DType::F32, kGpu);
  Tensor mean = Tensor::zeros({C}, DType::F32, kGpu), var = Tensor::ones({C}, DType::F32, kGpu);
  NoGradGuard no_grad;
  const GpuTiming t = time_gpu([&] { batch_norm_relu2d(x, gamma, beta, mean, var, true); });
  report_roofline(state, t, 3.0 * x.numel() * sizeof(float), 0, ceilings().copy_gbps, 0);
  state.SetLabel(fmt::format("train fwd [128, {}, {}, {}]", C, H, H));
}
BENCHMARK(BM_CxrBatchNormRelu)
    ->Args({32, 112})
    ->Args({512, 14})
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kMicrosecond);

void BM_CxrMaxPool(benchmark::State& state) {
  const Tensor x = gpu_random({kBatch, 64, 112, 112}, 7);
  NoGradGuard no_grad;
  const GpuTiming t = time_gpu([&] { max_pool2d(x, 2, 2); });
  report_roofline(state, t, 1.25 * x.numel() * sizeof(float), 0, ceilings().copy_gbps, 0);
  state.SetLabel("2x2 s2 [128, 64, 112, 112]");
}
BENCHMARK(BM_CxrMaxPool)->UseManualTime()->Iterations(1)->Unit(benchmark::kMicrosecond);

void BM_CxrGlobalAvgPool(benchmark::State& state) {
  const Tensor x = gpu_random({kBatch, 512, 14, 14}, 8);
  NoGradGuard no_grad;
  const GpuTiming t = time_gpu([&] { global_avg_pool2d(x); });
  report_roofline(state, t, 1.0 * x.numel() * sizeof(float), 0, ceilings().copy_gbps, 0);
  state.SetLabel("[128, 512, 14, 14]");
}
BENCHMARK(BM_CxrGlobalAvgPool)->UseManualTime()->Iterations(1)->Unit(benchmark::kMicrosecond);

// [128, 4] is cxr-small's (pure latency); [8192, 1024] measures the bandwidth.
void BM_CxrSoftmax(benchmark::State& state) {
  const Tensor x = gpu_random({state.range(0), state.range(1)}, 9);
  NoGradGuard no_grad;
  const GpuTiming t = time_gpu([&] { softmax(x); });
  report_roofline(state, t, 2.0 * x.numel() * sizeof(float), 0, ceilings().copy_gbps, 0);
}
BENCHMARK(BM_CxrSoftmax)
    ->Args({128, 4})
    ->Args({8192, 1024})
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kMicrosecond);

// A flat parameter buffer of n elements (cxr-small has about 0.8 M).
class FlatParameters : public Module {
 public:
  explicit FlatParameters(std::int64_t n) { declare_parameter("w", &w, {n}, Init::constant(0.5)); }
  Tensor w;
};

// Reads p, g, m, v and writes p, m, v: 7 passes over the buffer.
void BM_CxrAdamW(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  FlatParameters module(n);
  ParameterSet params(module, 0);
  params.to(kGpu);
  params.grads().fill_(0.25);
  AdamW opt(params, AdamWOptions{});
  const GpuTiming t = time_gpu([&] { opt.step(); });
  report_roofline(state, t, 7.0 * n * sizeof(float), 0, ceilings().copy_gbps, 0);
}
BENCHMARK(BM_CxrAdamW)->Arg(800'000)->Arg(64 << 20)->UseManualTime()->Iterations(1)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  if (cuda::device_count() == 0) {
    std::fprintf(stderr, "bench_cuda_kernels: %s\n", cuda::describe().c_str());
    return 1;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
