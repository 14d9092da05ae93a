// Whole-network benchmarks of the reference net (cxr_small) on the CPU:
// one training step (forward, cross-entropy, backward, AdamW) and inference
// (eval mode, no graph), batch 32 of 1x224x224, reporting images/s.
// scripts/bench-cpu runs this next to bench/torch_reference.py on the same machine.
#include "base/parallel.h"
#include "engine/autograd.h"
#include "engine/optim/adamw.h"
#include "models/depthwise_net.h"

#include <benchmark/benchmark.h>

#include <vector>

namespace {

using namespace cxr;

constexpr int kBatch = 32;
constexpr int kSize = 224;

Tensor random_batch(Generator& gen) {
  Tensor x = Tensor::empty({kBatch, 1, kSize, kSize});
  float* p = x.data<float>();
  for (std::int64_t i = 0; i < x.numel(); ++i) p[i] = static_cast<float>(gen.normal());
  return x;
}

void BM_TrainStep(benchmark::State& state) {
  DepthwiseSeparableNet net(NetConfig::cxr_small(), 1);
  ParameterSet params(net, 0);
  AdamW opt(params, AdamWOptions{});
  Generator gen(2);
  const Tensor x = random_batch(gen);
  std::vector<int> labels(kBatch);
  for (int i = 0; i < kBatch; ++i) labels[i] = i % 4;
  net.train();
  for (auto _ : state) {
    params.zero_grad();
    Tensor loss = cross_entropy(net.forward(x), labels);
    loss.backward();
    opt.step();
    benchmark::DoNotOptimize(loss.item());
  }
  state.counters["images_per_s"] =
      benchmark::Counter(static_cast<double>(kBatch) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["threads"] = num_threads();
}
BENCHMARK(BM_TrainStep)->Unit(benchmark::kMillisecond)->MinTime(20.0)->UseRealTime();

void BM_Inference(benchmark::State& state) {
  DepthwiseSeparableNet net(NetConfig::cxr_small(), 1);
  ParameterSet params(net, 0);
  Generator gen(3);
  const Tensor x = random_batch(gen);
  net.eval();
  for (auto _ : state) {
    NoGradGuard no_grad;
    benchmark::DoNotOptimize(net.forward(x).data<float>());
  }
  state.counters["images_per_s"] =
      benchmark::Counter(static_cast<double>(kBatch) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["threads"] = num_threads();
}
BENCHMARK(BM_Inference)->Unit(benchmark::kMillisecond)->MinTime(10.0)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
