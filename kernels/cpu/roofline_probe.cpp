#include "kernels/cpu/roofline_probe.h"

#include "base/check.h"
#include "base/parallel.h"
#include "kernels/cpu/gemm.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

namespace cxr::cpu {

namespace {

// Independent accumulator chains: an FMA has a latency of 4-5 cycles and two
// issue ports on current x86 cores, so at least 10 chains keep both ports busy.
constexpr int kChains = 12;

std::atomic<double> g_sink{0};  // keeps the accumulators observable

using Clock = std::chrono::steady_clock;

// The best of `repeats` runs after a warm-up. `run` returns its own seconds, timed
// inside the parallel region: a yield to urgent work before it (base/priority_gate.h)
// is not the machine's speed.
template <class F>
double best_seconds(int repeats, F run) {
  run();  // warm-up: page faults, clock ramp-up, pool threads awake
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) best = std::min(best, run());
  return best;
}

// The slowest thread's time: the region's, from inside it.
class RegionTimer {
 public:
  explicit RegionTimer(int threads) : seconds_(static_cast<std::size_t>(threads), 0.0) {}
  template <class F>
  void time(int thread, F work) {
    const auto t0 = Clock::now();
    work();
    seconds_[static_cast<std::size_t>(thread)] = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  double seconds() const { return *std::max_element(seconds_.begin(), seconds_.end()); }

 private:
  std::vector<double> seconds_;
};

// Each returns a sum of its accumulators (observable, so the loop is kept) and sets
// `flops` to the FLOPs it did.
#if defined(__AVX2__) && defined(__FMA__)
float fma_chains_avx2(std::int64_t iterations, double* flops) {
  __m256 acc[kChains];
  for (int k = 0; k < kChains; ++k) acc[k] = _mm256_set1_ps(1.0f + 0.01f * static_cast<float>(k));
  const __m256 a = _mm256_set1_ps(0.9999999f), b = _mm256_set1_ps(1e-7f);
  for (std::int64_t i = 0; i < iterations; ++i)
    for (int k = 0; k < kChains; ++k) acc[k] = _mm256_fmadd_ps(acc[k], a, b);
  __m256 total = acc[0];
  for (int k = 1; k < kChains; ++k) total = _mm256_add_ps(total, acc[k]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, total);
  *flops = static_cast<double>(iterations) * kChains * 8 * 2;
  return lanes[0];
}

// The GEMM's AVX-512 kernel runs where the CPU has it (kernels/cpu/gemm.h): so does this.
[[gnu::noinline, gnu::target("avx512f")]] float fma_chains_avx512(std::int64_t iterations, double* flops) {
  __m512 acc[kChains];
  for (int k = 0; k < kChains; ++k) acc[k] = _mm512_set1_ps(1.0f + 0.01f * static_cast<float>(k));
  const __m512 a = _mm512_set1_ps(0.9999999f), b = _mm512_set1_ps(1e-7f);
  for (std::int64_t i = 0; i < iterations; ++i)
    for (int k = 0; k < kChains; ++k) acc[k] = _mm512_fmadd_ps(acc[k], a, b);
  __m512 total = acc[0];
  for (int k = 1; k < kChains; ++k) total = _mm512_add_ps(total, acc[k]);
  *flops = static_cast<double>(iterations) * kChains * 16 * 2;
  return _mm512_reduce_add_ps(total);
}
#endif

float fma_chains_scalar(std::int64_t iterations, double* flops) {
  float acc[kChains];
  for (int k = 0; k < kChains; ++k) acc[k] = 1.0f + 0.01f * static_cast<float>(k);
  for (std::int64_t i = 0; i < iterations; ++i)
    for (int k = 0; k < kChains; ++k) acc[k] = acc[k] * 0.9999999f + 1e-7f;
  float total = 0;
  for (const float v : acc) total += v;
  *flops = static_cast<double>(iterations) * kChains * 2;
  return total;
}

float fma_chains(std::int64_t iterations, double* flops) {
#if defined(__AVX2__) && defined(__FMA__)
  if (gemm_isa() == GemmIsa::Avx512) return fma_chains_avx512(iterations, flops);
  if (gemm_isa() == GemmIsa::Avx2) return fma_chains_avx2(iterations, flops);
#endif
  return fma_chains_scalar(iterations, flops);
}

}  // namespace

const char* roofline_probe_isa() {
  switch (gemm_isa()) {
    case GemmIsa::Avx512: return "avx512f";
    case GemmIsa::Avx2: return "avx2+fma";
    default: return "scalar";
  }
}

double probe_peak_flops(std::int64_t iterations, int repeats) {
  CXR_CHECK(iterations > 0 && repeats > 0, "roofline: {} iterations and {} repeats must be positive", iterations,
            repeats);
  const int threads = num_threads();
  double flops_per_thread = 0;
  const double seconds = best_seconds(repeats, [&] {
    RegionTimer timer(threads);
    parallel_threads([&](int t, int) {
      timer.time(t, [&] {
        double flops = 0;
        const float sum = fma_chains(iterations, &flops);
        if (t == 0) flops_per_thread = flops;
        g_sink.store(g_sink.load(std::memory_order_relaxed) + sum, std::memory_order_relaxed);
      });
    });
    return timer.seconds();
  });
  return flops_per_thread * threads / seconds;
}

double probe_triad_bandwidth(std::int64_t elements, int repeats) {
  CXR_CHECK(elements > 0 && repeats > 0, "roofline: {} elements and {} repeats must be positive", elements, repeats);
  const auto n = static_cast<std::size_t>(elements);
  const std::unique_ptr<float[]> a(new float[n]), b(new float[n]), c(new float[n]);
  // First touch by the threads that stream them (their NUMA node, where there are several).
  parallel_for(0, elements, 1 << 14, [&](std::int64_t lo, std::int64_t hi) {
    std::fill(a.get() + lo, a.get() + hi, 0.0f);
    std::fill(b.get() + lo, b.get() + hi, 1.0f);
    std::fill(c.get() + lo, c.get() + hi, 2.0f);
  });
  const float s = 3.0f;
  const int threads = num_threads();
  const double seconds = best_seconds(repeats, [&] {
    RegionTimer timer(threads);
    parallel_threads([&](int t, int count) {
      std::int64_t lo = 0, hi = 0;
      static_chunk(elements, t, count, &lo, &hi);
      timer.time(t, [&] {
        float* __restrict out = a.get();
        const float* __restrict x = b.get();
        const float* __restrict y = c.get();
        for (std::int64_t i = lo; i < hi; ++i) out[i] = x[i] + s * y[i];
      });
    });
    return timer.seconds();
  });
  g_sink.store(a[n / 2], std::memory_order_relaxed);
  return 3.0 * sizeof(float) * static_cast<double>(elements) / seconds;
}

}  // namespace cxr::cpu
