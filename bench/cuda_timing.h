// Timing GPU work in the CUDA benchmarks (bench_cuda_*.cpp).
//
// A sample is CUDA events recorded on CXR's stream around `inner` back-to-back runs
// of the work, divided by `inner`: the GPU's time, without the host's wait for it.
// `inner` is chosen from a first run so that a sample lasts about 200 us; then a
// short kernel is not dominated by the launch latency in front of it. After a few
// warm-up samples (clocks ramp up, caches and cuDNN/cuBLAS heuristics settle) the
// median of `samples` samples is reported: an odd slow sample (another process on
// the GPU) moves the median little.
//
// Rates are computed here from the median (bytes or FLOPs / median time) rather than
// with Google Benchmark's kIsRate, whose divisor is the CPU time of the loop.
#pragma once

#include "kernels/cuda/check.cuh"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

namespace cxr::bench {

struct GpuTiming {
  double median_s = 0, min_s = 0;
  int inner = 1, samples = 0;
};

// `work` must issue everything on cuda::stream() (CXR's ops and launchers do; set
// cuBLAS's and cuDNN's stream to it).
inline GpuTiming time_gpu(const std::function<void()>& work, int samples = 30, int warmup = 3) {
  cudaStream_t s = cuda::stream();
  cudaEvent_t start, stop;
  CXR_CUDA_CHECK(cudaEventCreate(&start));
  CXR_CUDA_CHECK(cudaEventCreate(&stop));
  auto sample = [&](int inner) {
    CXR_CUDA_CHECK(cudaEventRecord(start, s));
    for (int i = 0; i < inner; ++i) work();
    CXR_CUDA_CHECK(cudaEventRecord(stop, s));
    CXR_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    CXR_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    return 1e-3 * ms / inner;
  };
  GpuTiming t;
  const double first = sample(1);
  t.inner = static_cast<int>(std::clamp(std::ceil(200e-6 / std::max(first, 1e-7)), 1.0, 200.0));
  for (int i = 0; i < warmup; ++i) sample(t.inner);
  std::vector<double> times;
  for (int i = 0; i < samples; ++i) times.push_back(sample(t.inner));
  CXR_CUDA_CHECK(cudaEventDestroy(start));
  CXR_CUDA_CHECK(cudaEventDestroy(stop));
  std::sort(times.begin(), times.end());
  t.samples = samples;
  t.min_s = times.front();
  t.median_s = samples % 2 ? times[samples / 2] : 0.5 * (times[samples / 2 - 1] + times[samples / 2]);
  return t;
}

// One benchmark iteration reports the median (register with ->UseManualTime()->Iterations(1)).
inline void report(benchmark::State& state, const GpuTiming& t) {
  for (auto _ : state) state.SetIterationTime(t.median_s);
  state.counters["median_us"] = 1e6 * t.median_s;
  state.counters["min_us"] = 1e6 * t.min_s;
}

// Rates of the median next to the measured ceilings (pass 0 for what does not
// apply), and pct_roofline: the roofline bound max(bytes / copy ceiling, flops /
// FLOP ceiling) as a share of the median time (100: at the measured ceiling).
inline void report_roofline(benchmark::State& state, const GpuTiming& t, double bytes, double flops,
                            double ceiling_gbps, double ceiling_gflops) {
  report(state, t);
  double bound_s = 0;
  if (bytes > 0) {
    state.counters["GB/s"] = bytes / t.median_s * 1e-9;
    state.counters["ceil_GB/s"] = ceiling_gbps;
    if (ceiling_gbps > 0) bound_s = std::max(bound_s, bytes / (ceiling_gbps * 1e9));
  }
  if (flops > 0) {
    state.counters["GFLOP/s"] = flops / t.median_s * 1e-9;
    state.counters["ceil_GFLOP/s"] = ceiling_gflops;
    if (ceiling_gflops > 0) bound_s = std::max(bound_s, flops / (ceiling_gflops * 1e9));
  }
  state.counters["pct_roofline"] = 100 * bound_s / t.median_s;
}

}  // namespace cxr::bench
