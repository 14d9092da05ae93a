// Training-loader throughput at 224 x 224, in images/s (wall clock), with and
// without augmentation. Targets on the 2-core machine: >= 5000 images/s plain,
// >= 1500 images/s augmented, with 2 workers.
//
//   BM_Loader/<augment>/<workers>   one epoch of 2048 images, batch 32, shuffled;
//                                   augment 0: none, 1: the defaults, 2: strong_augment()
//   BM_Normalize, BM_Augment        one image on one thread (the per-image cost)
#include "data/dataset.h"
#include "data/loader.h"
#include "data/manifest.h"
#include "engine/data/augment.h"
#include "engine/data/cache_file.h"
#include "engine/random.h"

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <unistd.h>

#include <filesystem>
#include <numeric>
#include <vector>

namespace {

using namespace cxr;
using namespace cxr::data;

constexpr int kSize = 224;
constexpr int kImages = 2048;

// A dataset of kImages random-noise images in a temporary directory (removed at exit).
struct BenchData {
  std::filesystem::path dir;
  Dataset dataset;
  BenchData() {
    dir = std::filesystem::temp_directory_path() / fmt::format("cxr-bench-loader-{}", ::getpid());
    std::filesystem::create_directories(dir);
    CacheWriter cache(dir / "cache.bin", {kImages, kSize, 4, 0.45f, 0.25f});
    std::vector<ManifestRow> rows;
    Generator gen(1);
    std::vector<std::uint8_t> px(kSize * kSize);
    for (int i = 0; i < kImages; ++i) {
      for (auto& p : px) p = static_cast<std::uint8_t>(gen.next_u64());
      cache.write(px.data());
      rows.push_back({i, Source::kermany, fmt::format("x{}", i), fmt::format("p{}", i), i % 4, Split::train, "AP", ""});
    }
    cache.close();
    write_manifest(dir / "manifest.csv", rows, 4);
    dataset = Dataset::open(dir);
  }
  ~BenchData() { std::filesystem::remove_all(dir); }
};

BenchData& data() {
  static BenchData d;
  return d;
}

void BM_Loader(benchmark::State& state) {
  LoaderOptions opt;
  opt.batch_size = 32;
  opt.workers = static_cast<int>(state.range(1));
  if (state.range(0) == 1) opt.augment = AugmentOptions{};
  if (state.range(0) == 2) opt.augment = strong_augment();
  std::vector<std::int64_t> all(kImages);
  std::iota(all.begin(), all.end(), 0);
  Loader loader(data().dataset, all, opt);
  std::int64_t epoch = 0;
  for (auto _ : state) {
    loader.start_epoch(epoch++);
    while (auto batch = loader.next()) benchmark::DoNotOptimize(batch->images.data<float>());
  }
  state.counters["images/s"] = benchmark::Counter(kImages, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Loader)
    ->ArgNames({"augment", "workers"})
    ->Args({0, 1})
    ->Args({0, 2})
    ->Args({1, 1})
    ->Args({1, 2})
    ->Args({2, 1})
    ->Args({2, 2})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_Normalize(benchmark::State& state) {
  std::vector<float> out(kSize * kSize);
  const std::uint8_t* px = data().dataset.pixels(0);
  for (auto _ : state) {
    normalize_image(out.data(), px, kSize * kSize, 0.45f, 0.25f);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["images/s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Normalize);

void BM_Augment(benchmark::State& state) {
  std::vector<float> out(kSize * kSize);
  const std::uint8_t* px = data().dataset.pixels(0);
  Generator gen(3);
  const AugmentOptions options;
  for (auto _ : state) {
    augment_image(out.data(), px, kSize, sample_augment(options, kSize, gen), 0.45f, 0.25f);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["images/s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Augment);

}  // namespace

BENCHMARK_MAIN();
