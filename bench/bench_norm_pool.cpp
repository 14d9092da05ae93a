// Memory-bound CPU kernels at the reference net's activation shapes (batch 32):
// batch norm forward (training) and backward, relu forward and backward, global
// average pooling, softmax + cross-entropy and Grad-CAM's bilinear upsampling.
// GB/s counts the compulsory traffic (each input read once, each output written
// once); BM_Copy, a parallel copy of the largest activation, is the ceiling to
// compare with.
#include "base/parallel.h"
#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/random.h"
#include "kernels/cpu/batch_norm.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/pool.h"

#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

namespace {

using namespace cxr;

// [N, C, H, W] = [32, C, S, S] of the stem and the blocks' outputs.
void ActivationShapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"C", "S"});
  for (auto [c, s] : std::vector<std::pair<int, int>>{{32, 112}, {64, 112}, {128, 56}, {256, 28}, {512, 14}})
    b->Args({c, s});
}

constexpr std::int64_t kBatch = 32;

std::vector<float> random_floats(std::int64_t n, std::uint64_t seed) {
  std::vector<float> v(static_cast<std::size_t>(n));
  Generator gen(seed);
  for (auto& x : v) x = static_cast<float>(gen.uniform(-2.0, 2.0));
  return v;
}

void set_gbps(benchmark::State& state, double bytes_per_iteration) {
  state.counters["GB/s"] = benchmark::Counter(bytes_per_iteration * static_cast<double>(state.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
  state.counters["threads"] = num_threads();
}

void BM_Copy(benchmark::State& state) {
  const std::int64_t n = kBatch * 64 * 112 * 112;
  const auto x = random_floats(n, 1);
  std::vector<float> y(static_cast<std::size_t>(n));
  for (auto _ : state) {
    parallel_for(0, n, 1 << 15, [&](std::int64_t i0, std::int64_t i1) {
      std::memcpy(y.data() + i0, x.data() + i0, static_cast<std::size_t>(i1 - i0) * sizeof(float));
    });
    benchmark::DoNotOptimize(y.data());
  }
  set_gbps(state, 2.0 * n * sizeof(float));
}
BENCHMARK(BM_Copy)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_BatchNormForwardTrain(benchmark::State& state) {
  const std::int64_t C = state.range(0), HW = state.range(1) * state.range(1), n = kBatch * C * HW;
  const auto x = random_floats(n, 2);
  std::vector<float> out(static_cast<std::size_t>(n)), gamma(C, 1.0f), beta(C, 0.0f);
  std::vector<float> mean(C), invstd(C), running_mean(C, 0.0f), running_var(C, 1.0f);
  for (auto _ : state) {
    cpu::batch_norm_forward_train(out.data(), mean.data(), invstd.data(), running_mean.data(), running_var.data(),
                                  x.data(), gamma.data(), beta.data(), kBatch, C, HW, 0.1, 1e-5);
    benchmark::DoNotOptimize(out.data());
  }
  set_gbps(state, 2.0 * n * sizeof(float));  // read x, write out
}
BENCHMARK(BM_BatchNormForwardTrain)->Apply(ActivationShapes)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_BatchNormBackwardTrain(benchmark::State& state) {
  const std::int64_t C = state.range(0), HW = state.range(1) * state.range(1), n = kBatch * C * HW;
  const auto x = random_floats(n, 3), dy = random_floats(n, 4);
  std::vector<float> dx(static_cast<std::size_t>(n)), gamma(C, 1.0f), dgamma(C), dbeta(C);
  std::vector<float> mean(C, 0.0f), invstd(C, 0.8f);
  for (auto _ : state) {
    cpu::batch_norm_backward(dx.data(), dgamma.data(), dbeta.data(), dy.data(), x.data(), mean.data(), invstd.data(),
                             gamma.data(), kBatch, C, HW, true);
    benchmark::DoNotOptimize(dx.data());
  }
  set_gbps(state, 3.0 * n * sizeof(float));  // read x and dy, write dx
}
BENCHMARK(BM_BatchNormBackwardTrain)->Apply(ActivationShapes)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ReluForward(benchmark::State& state) {
  const std::int64_t n = kBatch * state.range(0) * state.range(1) * state.range(1);
  const auto x = random_floats(n, 5);
  std::vector<float> out(static_cast<std::size_t>(n));
  for (auto _ : state) {
    cpu::relu_forward(out.data(), x.data(), n);
    benchmark::DoNotOptimize(out.data());
  }
  set_gbps(state, 2.0 * n * sizeof(float));
}
BENCHMARK(BM_ReluForward)->Apply(ActivationShapes)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ReluBackward(benchmark::State& state) {
  const std::int64_t n = kBatch * state.range(0) * state.range(1) * state.range(1);
  const auto out = random_floats(n, 6), dout = random_floats(n, 7);
  std::vector<float> dx(static_cast<std::size_t>(n));
  for (auto _ : state) {
    cpu::relu_backward(dx.data(), out.data(), dout.data(), n);
    benchmark::DoNotOptimize(dx.data());
  }
  set_gbps(state, 3.0 * n * sizeof(float));
}
BENCHMARK(BM_ReluBackward)->Apply(ActivationShapes)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_GlobalAvgPool(benchmark::State& state) {
  const std::int64_t maps = kBatch * 512, HW = 7 * 7;
  const auto x = random_floats(maps * HW, 8);
  std::vector<float> out(static_cast<std::size_t>(maps));
  for (auto _ : state) {
    cpu::global_avg_pool2d_forward(out.data(), x.data(), maps, HW);
    benchmark::DoNotOptimize(out.data());
  }
  set_gbps(state, static_cast<double>(maps * (HW + 1)) * sizeof(float));
}
BENCHMARK(BM_GlobalAvgPool)->Unit(benchmark::kMicrosecond)->UseRealTime();

// The op, forward and backward, with its autograd bookkeeping: at [32, 4] the
// fixed costs are the whole cost, so this reports time per call.
void BM_CrossEntropyForwardBackward(benchmark::State& state) {
  Tensor logits = Tensor::from_vector(random_floats(kBatch * 4, 9), {kBatch, 4});
  logits.set_requires_grad();
  std::vector<int> labels(kBatch);
  for (int i = 0; i < kBatch; ++i) labels[i] = i % 4;
  const Tensor weights = Tensor::from_vector(std::vector<float>{1.0f, 2.0f, 0.5f, 1.5f}, {4});
  for (auto _ : state) {
    logits.set_grad(Tensor());
    Tensor loss = cross_entropy(logits, labels, weights);
    loss.backward();
    benchmark::DoNotOptimize(logits.grad().data<float>());
  }
}
BENCHMARK(BM_CrossEntropyForwardBackward)->Unit(benchmark::kMicrosecond);

void BM_Softmax(benchmark::State& state) {
  const Tensor logits = Tensor::from_vector(random_floats(kBatch * 4, 10), {kBatch, 4});
  for (auto _ : state) benchmark::DoNotOptimize(softmax(logits).data<float>());
}
BENCHMARK(BM_Softmax)->Unit(benchmark::kMicrosecond);

void BM_ResizeBilinear7To224(benchmark::State& state) {
  const Tensor x = Tensor::from_vector(random_floats(49, 11), {1, 1, 7, 7});
  for (auto _ : state) benchmark::DoNotOptimize(resize_bilinear(x, 224, 224).data<float>());
  set_gbps(state, (49.0 + 224.0 * 224.0) * sizeof(float));
}
BENCHMARK(BM_ResizeBilinear7To224)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
