// GEMM and conv2d kernel benchmarks at the shapes of the reference net (cxr_small,
// batch 32, 1x224x224), reporting FLOP/s (and bytes/s for the memory-bound
// depthwise layers). The ceiling on this project's machines: one core does 2 AVX2
// FMAs of 8 floats per cycle, 32 FLOP/cycle (about 75 GFLOP/s per core at 2.4 GHz).
//
//   BM_Gemm/M/N/K/trans_a/trans_b   gemm() on one thread
//   BM_GemmParallel/...              gemm_parallel() on the pool
//   BM_ConvForward/<layer>           conv2d_forward, the whole batch
//   BM_ConvBackward/<layer>          conv2d_backward: dweight and dx (not dx for the stem, whose
//                                    input image needs no gradient; no bias: BN follows every conv)
//   BM_Linear{Forward,Backward}      the 512 -> 4 classifier
#include "base/parallel.h"
#include "engine/random.h"
#include "kernels/cpu/conv2d.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/linear.h"

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <string>
#include <vector>

namespace {

using namespace cxr;

constexpr std::int64_t kBatch = 32;

std::vector<float> random_vector(std::int64_t n, std::uint64_t seed) {
  Generator gen(seed);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = static_cast<float>(gen.uniform(-1.0, 1.0));
  return v;
}

void set_flops(benchmark::State& state, double flops_per_iteration) {
  state.counters["FLOP/s"] = benchmark::Counter(flops_per_iteration, benchmark::Counter::kIsIterationInvariantRate);
}

// ---- GEMM ---------------------------------------------------------------------------------

template <bool kParallel>
void BM_Gemm(benchmark::State& state) {
  const std::int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  const bool ta = state.range(3) != 0, tb = state.range(4) != 0;
  const auto A = random_vector(M * K, 1), B = random_vector(K * N, 2);
  std::vector<float> C(static_cast<std::size_t>(M * N));
  const std::int64_t lda = ta ? M : K, ldb = tb ? K : N;
  for (auto _ : state) {
    if (kParallel)
      cpu::gemm_parallel<float>(ta, tb, M, N, K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C.data(), N);
    else
      cpu::gemm<float>(ta, tb, M, N, K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C.data(), N);
    benchmark::DoNotOptimize(C.data());
  }
  set_flops(state, 2.0 * M * N * K);
}

// Square, then per image of each pointwise layer: forward Y = W X (M C_out, N HW, K C_in),
// dX = W^T dY (trans_a) and dW = dY X^T (trans_b, K = HW).
void gemm_shapes(benchmark::internal::Benchmark* b) {
  b->Args({1024, 1024, 1024, 0, 0})->Args({1024, 1024, 1024, 1, 0})->Args({1024, 1024, 1024, 0, 1});
  for (auto [cin, cout, hw] : {std::tuple{32, 64, 12544},
                               {64, 128, 3136},
                               {128, 128, 3136},
                               {128, 256, 784},
                               {256, 256, 784},
                               {256, 512, 196},
                               {512, 512, 196}}) {
    b->Args({cout, hw, cin, 0, 0});
    b->Args({cin, hw, cout, 1, 0});
    b->Args({cout, cin, hw, 0, 1});
  }
  b->ArgNames({"M", "N", "K", "ta", "tb"});
}
BENCHMARK(BM_Gemm<false>)->Name("BM_Gemm")->Apply(gemm_shapes)->MinTime(0.05)->UseRealTime();
BENCHMARK(BM_Gemm<true>)->Name("BM_GemmParallel")->Apply(gemm_shapes)->MinTime(0.05)->UseRealTime();

// ---- conv2d at the reference net's layers ----------------------------------------------

struct Layer {
  std::string name;
  Conv2dShape shape;
  bool input_grad;  // the stem's input is the image: no dx
};

std::vector<Layer> net_layers() {
  std::vector<Layer> layers;
  layers.push_back({"stem_3x3s2_1to32_224", conv2d_shape(kBatch, 1, 224, 224, 32, 3, 2, 1, 1), false});
  struct Block {
    int in, out, stride, size;
  };
  // The last 512 -> 512 block repeats the one before it: benchmarked once.
  for (const Block& b : {Block{32, 64, 1, 112},
                         {64, 128, 2, 112},
                         {128, 128, 1, 56},
                         {128, 256, 2, 56},
                         {256, 256, 1, 28},
                         {256, 512, 2, 28},
                         {512, 512, 1, 14}}) {
    const auto dw = conv2d_shape(kBatch, b.in, b.size, b.size, b.in, 3, b.stride, 1, b.in);
    layers.push_back({fmt::format("dw_3x3s{}_{}_{}", b.stride, b.in, b.size), dw, true});
    layers.push_back({fmt::format("pw_{}to{}_{}", b.in, b.out, dw.H_out),
                      conv2d_shape(kBatch, b.in, dw.H_out, dw.W_out, b.out, 1, 1, 0, 1), true});
  }
  return layers;
}

double conv_flops(const Conv2dShape& s) {
  return 2.0 * s.N * s.C_out * s.H_out * s.W_out * (s.C_in / s.groups) * s.K * s.K;
}

struct ConvData {
  std::vector<float> x, w, y, dy, dx, dw;
  explicit ConvData(const Conv2dShape& s)
      : x(random_vector(s.N * s.C_in * s.H * s.W, 3)),
        w(random_vector(s.C_out * s.C_in / s.groups * s.K * s.K, 4)),
        y(static_cast<std::size_t>(s.N * s.C_out * s.H_out * s.W_out)),
        dy(random_vector(s.N * s.C_out * s.H_out * s.W_out, 6)),
        dx(x.size()),
        dw(w.size()) {}
};

// Forward: one conv's FLOPs; backward: dweight costs as much again as dx. Depthwise
// layers are memory bound: bytes/s counts x read + y written (forward), or x and dy
// read + dx written (backward), once each.
void set_conv_counters(benchmark::State& state, const Conv2dShape& s, bool backward, bool input_grad) {
  set_flops(state, (backward && input_grad ? 2 : 1) * conv_flops(s));
  if (s.groups > 1) {
    const double x = s.N * s.C_in * s.H * s.W, y = s.N * s.C_out * s.H_out * s.W_out;
    const double bytes = 4.0 * (x + y + (backward && input_grad ? x : 0));
    state.counters["bytes/s"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
  }
}

void register_conv_benchmarks() {
  for (const Layer& layer : net_layers()) {
    benchmark::RegisterBenchmark(("BM_ConvForward/" + layer.name).c_str(),
                                 [layer](benchmark::State& state) {
                                   const Conv2dShape& s = layer.shape;
                                   ConvData d(s);
                                   auto run = [&] {
                                     cpu::conv2d_forward<float>(d.y.data(), d.x.data(), d.w.data(), nullptr, s);
                                   };
                                   run();  // warm-up: first touch of the output pages, packing buffers
                                   for (auto _ : state) {
                                     run();
                                     benchmark::DoNotOptimize(d.y.data());
                                   }
                                   set_conv_counters(state, s, false, false);
                                 })
        ->Iterations(3)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("BM_ConvBackward/" + layer.name).c_str(),
                                 [layer](benchmark::State& state) {
                                   const Conv2dShape& s = layer.shape;
                                   ConvData d(s);
                                   auto run = [&] {
                                     cpu::conv2d_backward<float>(layer.input_grad ? d.dx.data() : nullptr, d.dw.data(),
                                                                 nullptr, d.dy.data(), d.x.data(), d.w.data(), s);
                                   };
                                   run();
                                   for (auto _ : state) {
                                     run();
                                     benchmark::DoNotOptimize(d.dw.data());
                                   }
                                   set_conv_counters(state, s, true, layer.input_grad);
                                 })
        ->Iterations(3)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
}

// ---- linear 512 -> 4 ---------------------------------------------------------------------

void BM_LinearForward(benchmark::State& state) {
  const auto x = random_vector(kBatch * 512, 7), w = random_vector(4 * 512, 8), b = random_vector(4, 9);
  std::vector<float> y(kBatch * 4);
  for (auto _ : state) {
    cpu::linear_forward<float>(y.data(), x.data(), w.data(), b.data(), kBatch, 512, 4);
    benchmark::DoNotOptimize(y.data());
  }
  set_flops(state, 2.0 * kBatch * 512 * 4);
}
BENCHMARK(BM_LinearForward)->MinTime(0.05)->UseRealTime();

void BM_LinearBackward(benchmark::State& state) {
  const auto x = random_vector(kBatch * 512, 7), w = random_vector(4 * 512, 8), dy = random_vector(kBatch * 4, 9);
  std::vector<float> dx(kBatch * 512), dw(4 * 512), db(4);
  for (auto _ : state) {
    cpu::linear_backward<float>(dx.data(), dw.data(), db.data(), dy.data(), x.data(), w.data(), kBatch, 512, 4);
    benchmark::DoNotOptimize(dw.data());
  }
  set_flops(state, 2 * 2.0 * kBatch * 512 * 4);
}
BENCHMARK(BM_LinearBackward)->MinTime(0.05)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  register_conv_benchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("threads", std::to_string(cxr::num_threads()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
