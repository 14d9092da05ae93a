// Where the time of `cxr eval-heatmaps` goes for one image on the bundled model
// (models/pretrained/cxr-small.safetensors, or $CXR_MODEL), split into the
// explanation method itself and the metric passes every map then gets:
//
//   BM_Method/<method>/<batch>   one explanation (Integrated Gradients 16 steps,
//                                SmoothGrad 16 copies, occlusion 16 px patch and
//                                stride, Score-CAM one masked image per channel:
//                                eval-heatmaps' settings), `batch` images a pass
//   BM_DeletionInsertion         blur deletion and insertion of one map (2 x 17
//                                images in one batch)
//   BM_Road                      ROAD of one map: 10 noisy linear imputations and
//                                10 images through the net
//
// The image is a synthetic chest-like square at the model's input size (the cost
// does not depend on the content, except ROAD's sweeps a little). Run with
// CXR_THREADS=1 to match eval-heatmaps --threads 1; read the CPU column on a
// loaded machine.
#include "engine/random.h"
#include "models/explain/registry.h"
#include "models/explain/road.h"
#include "models/heatmap_eval.h"
#include "models/inference.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace {

using namespace cxr;

LoadedModel& model() {
  static LoadedModel m = load_model(default_model_path());
  return m;
}

// Smooth anatomy plus film noise, normalised like the model's inputs (mean 0, sd 1).
Tensor synthetic_input() {
  const int n = model().info.config.input_size;
  std::vector<double> px(static_cast<std::size_t>(n * n));
  Generator gen(7);
  double mean = 0, var = 0;
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      const double u = (x + 0.5) / n - 0.5, v = (y + 0.5) / n - 0.5;
      const bool lung = std::abs(std::abs(u) - 0.2) < 0.13 && std::abs(v) < 0.3;
      px[y * n + x] = (lung ? 60 + 40 * v : 170 - 80 * (u * u + v * v)) + 6 * gen.normal();
      mean += px[y * n + x] / (n * n);
    }
  for (double p : px) var += (p - mean) * (p - mean) / (n * n);
  for (double& p : px) p = (p - mean) / std::sqrt(var);
  return Tensor::from_vector(px, {1, 1, n, n}, DType::F32);
}

const std::vector<std::string> kMethods{"scorecam", "integrated-gradients", "smoothgrad", "occlusion"};

ExplainSettings eval_settings(int batch) {
  ExplainSettings s;
  s.ig_steps = 16;
  s.occlusion_patch = 16;
  s.occlusion_stride = 16;
  s.batch = batch;
  return s;
}

void BM_Method(benchmark::State& state) {
  const std::string& method = kMethods[static_cast<std::size_t>(state.range(0))];
  state.SetLabel(method);
  const Tensor x = synthetic_input();
  const ExplainSettings s = eval_settings(static_cast<int>(state.range(1)));
  for (auto _ : state) benchmark::DoNotOptimize(explain_with(*model().net, x, method, -1, s).map.data<double>());
}
BENCHMARK(BM_Method)
    ->ArgsProduct({{0, 1, 2, 3}, {1, 16}})
    ->ArgNames({"method", "batch"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The score eval-heatmaps measures: the probability of the predicted class.
struct Scored {
  Tensor input = synthetic_input();
  int target = predict_one(*model().net, input, -1).target;
  ScoreFn score = [this](const Tensor& batch) {
    std::vector<double> out;
    for (const auto& p : predict_probabilities(*model().net, batch)) out.push_back(p[target]);
    return out;
  };
  Tensor map = explain_with(*model().net, input, "gradcam", target).map;
};

void BM_DeletionInsertion(benchmark::State& state) {
  const Scored s;
  const Tensor baseline = gaussian_blur(s.input, 5.0);
  Generator gen(1);
  const auto order = order_by_heat(s.map, gen);
  for (auto _ : state) benchmark::DoNotOptimize(deletion_insertion(s.score, s.input, baseline, order, 16));
}
BENCHMARK(BM_DeletionInsertion)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Road(benchmark::State& state) {
  const Scored s;
  Generator gen(1);
  const auto order = order_by_heat(s.map, gen);
  for (auto _ : state) benchmark::DoNotOptimize(road(s.score, s.input, order, RoadSettings{}, gen));
}
BENCHMARK(BM_Road)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
