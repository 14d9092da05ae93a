// The stages of one POST /api/v1/predict?explain=gradcam on the bundled model
// (models/pretrained/cxr-small.safetensors, or $CXR_MODEL), one request at a time:
//
//   BM_Decode      PNG/JPEG bytes -> 8-bit grey (engine/data/image.h)
//   BM_Prepare     decode + fit to the square + normalise (models/inference.h)
//   BM_Forward     probabilities of one image (eval mode, no graph)
//   BM_Explain     Grad-CAM: forward, backward of the head, weighting, upsampling
//   BM_Overlays    the two pictures the server returns (blend 0.5 and the colours
//                  alone) rendered and PNG-encoded
//
// The image is $CXR_BENCH_IMAGE (a real X-ray gives realistic decode and PNG
// costs) or, without it, a synthetic 512 x 512 grey PNG. The whole request, HTTP
// included, is measured by scripts/load-test; the latency goal (p50 <= 60 ms for
// one sequential client on the 2-core machine) is checked there.
#include "engine/autograd.h"
#include "engine/data/image.h"
#include "engine/random.h"
#include "models/gradcam.h"
#include "models/inference.h"
#include "models/overlay.h"

#include <benchmark/benchmark.h>
#include <stb/stb_image_write.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

using namespace cxr;

// A 512 x 512 chest-like picture: smooth anatomy plus film noise, so that the PNG
// neither compresses to nothing nor is pure noise.
std::vector<std::uint8_t> synthetic_png() {
  constexpr int n = 512;
  std::vector<std::uint8_t> px(n * n);
  Generator gen(7);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      const double u = (x + 0.5) / n - 0.5, v = (y + 0.5) / n - 0.5;
      const bool lung = std::abs(std::abs(u) - 0.2) < 0.13 && std::abs(v) < 0.3;
      const double base = lung ? 60 + 40 * v : 170 - 80 * (u * u + v * v);
      px[y * n + x] = static_cast<std::uint8_t>(std::clamp(base + 6 * gen.normal(), 0.0, 255.0));
    }
  std::vector<std::uint8_t> out;
  stbi_write_png_to_func(
      [](void* context, void* data, int size) {
        auto* o = static_cast<std::vector<std::uint8_t>*>(context);
        o->insert(o->end(), static_cast<std::uint8_t*>(data), static_cast<std::uint8_t*>(data) + size);
      },
      &out, n, n, 1, px.data(), n);
  return out;
}

const std::vector<std::uint8_t>& image_bytes() {
  static const std::vector<std::uint8_t> bytes = [] {
    const char* path = std::getenv("CXR_BENCH_IMAGE");
    if (path == nullptr || *path == '\0') return synthetic_png();
    std::ifstream in(path, std::ios::binary);
    CXR_CHECK(in, "bench_predict: cannot read CXR_BENCH_IMAGE '{}'", path);
    return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
  }();
  return bytes;
}

LoadedModel& model() {
  static LoadedModel m = load_model(default_model_path());
  return m;
}

void BM_Decode(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(data::decode_grey(image_bytes(), {}).image.pixels.data());
}
BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond);

void BM_Prepare(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(prepare_image(image_bytes(), model().info).input.data<float>());
}
BENCHMARK(BM_Prepare)->Unit(benchmark::kMillisecond);

// Batch n: what the inference worker runs when n requests wait together.
void BM_Forward(benchmark::State& state) {
  const PreparedImage x = prepare_image(image_bytes(), model().info);
  const std::int64_t n = state.range(0), s = x.input.size(2);
  Tensor batch = Tensor::empty({n, 1, s, s});
  for (std::int64_t i = 0; i < n; ++i) std::copy_n(x.input.data<float>(), s * s, batch.data<float>() + i * s * s);
  for (auto _ : state) benchmark::DoNotOptimize(predict_probabilities(*model().net, batch));
  state.counters["images_per_s"] =
      benchmark::Counter(static_cast<double>(n) * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Forward)->Arg(1)->Arg(2)->Arg(4)->Arg(8)->Arg(16)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Explain(benchmark::State& state) {
  const PreparedImage x = prepare_image(image_bytes(), model().info);
  for (auto _ : state) benchmark::DoNotOptimize(explain(*model().net, x.input, CamMethod::GradCam).map.data<double>());
}
BENCHMARK(BM_Explain)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Overlays(benchmark::State& state) {
  const PreparedImage x = prepare_image(image_bytes(), model().info);
  const Heatmap h = explain(*model().net, x.input, CamMethod::GradCam);
  std::size_t bytes = 0;
  for (auto _ : state) {
    const RgbImage colours = render_overlay(x.fitted, h.map, 1.0);
    bytes = encode_png(colours, {}).size() + encode_png(blend_overlay(x.fitted, colours, 0.5), {}).size();
  }
  state.counters["png_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_Overlays)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
