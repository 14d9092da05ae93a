// Optimizer steps over the reference net's flat parameter buffer (808k floats),
// reporting GB/s of the memory traffic they make (AdamW: p, g, m, v read and p, m,
// v written = 28 bytes per parameter; SGD with momentum: p, g, buf read, p, buf written).
#include "engine/optim/adamw.h"
#include "engine/optim/clip_grad.h"
#include "engine/optim/sgd.h"
#include "models/depthwise_net.h"

#include <benchmark/benchmark.h>

namespace {

using namespace cxr;

void BM_AdamWStep(benchmark::State& state) {
  DepthwiseSeparableNet net(NetConfig::cxr_small(), 1);
  ParameterSet params(net, 0);
  params.grads().fill_(1e-3);
  AdamW opt(params, AdamWOptions{});
  for (auto _ : state) opt.step();
  state.SetBytesProcessed(state.iterations() * params.count() * 28);
  state.counters["params"] = static_cast<double>(params.count());
}
BENCHMARK(BM_AdamWStep)->Unit(benchmark::kMicrosecond);

void BM_SGDMomentumStep(benchmark::State& state) {
  DepthwiseSeparableNet net(NetConfig::cxr_small(), 1);
  ParameterSet params(net, 0);
  params.grads().fill_(1e-3);
  SGD opt(params, SGDOptions{0.01, 0.9, 0.0, 1e-4, true});
  for (auto _ : state) opt.step();
  state.SetBytesProcessed(state.iterations() * params.count() * 20);
}
BENCHMARK(BM_SGDMomentumStep)->Unit(benchmark::kMicrosecond);

void BM_ClipGradNorm(benchmark::State& state) {
  DepthwiseSeparableNet net(NetConfig::cxr_small(), 1);
  ParameterSet params(net, 0);
  params.grads().fill_(1e-3);
  for (auto _ : state) benchmark::DoNotOptimize(clip_grad_norm(params, 1e9));  // read only: no clipping
  state.SetBytesProcessed(state.iterations() * params.count() * 4);
}
BENCHMARK(BM_ClipGradNorm)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
