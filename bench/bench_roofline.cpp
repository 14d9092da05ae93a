// The two ceilings of the CPU roofline that `cxr inspect --roofline` and the step
// view divide by (models/roofline.h, kernels/cpu/roofline_probe.h), as benchmarks:
// FLOP/s of the FMA-bound loop and bytes/s of the STREAM triad, on the shared pool's
// threads (CXR_THREADS, default all cores). Google Benchmark's own repetitions
// replace the probes' best-of-N: run with --benchmark_repetitions and read the max.
#include "base/parallel.h"
#include "kernels/cpu/roofline_probe.h"

#include <benchmark/benchmark.h>

namespace {

using namespace cxr;

constexpr std::int64_t kFmaIterations = 2'000'000;               // ~5 ms per thread
constexpr std::int64_t kTriadElements = std::int64_t{64} << 20;  // 3 x 256 MiB

void BM_PeakFlops(benchmark::State& state) {
  double flops = 0;
  for (auto _ : state) flops = cpu::probe_peak_flops(kFmaIterations, 1);
  state.counters["GFLOP/s"] = flops / 1e9;
  state.counters["threads"] = num_threads();
  state.SetLabel(cpu::roofline_probe_isa());
}
BENCHMARK(BM_PeakFlops)->Unit(benchmark::kMillisecond);

void BM_TriadBandwidth(benchmark::State& state) {
  double bandwidth = 0;
  for (auto _ : state) bandwidth = cpu::probe_triad_bandwidth(kTriadElements, 1);
  state.counters["GB/s"] = bandwidth / 1e9;
  state.counters["threads"] = num_threads();
}
BENCHMARK(BM_TriadBandwidth)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
