// The reference net (cxr-small) on the GPU against the same net on the CPU: moving a
// ParameterSet, one training step in detail (logits, loss, batch-norm statistics,
// every gradient, the AdamW update), five AdamW steps from the same seed, batched
// prediction, Grad-CAM / Grad-CAM++, the loader's augmented batches and `cxr train
// --device cuda` against the CPU run. Skipped, with the reason, without a GPU.
//
// Tolerances: both sides compute in float32, but the GPU sums in another order
// (tiled GEMMs, block reductions), so every result differs by rounding. A sum of K
// float products carries a relative error of about sqrt(K) * 6e-8 of the sum of
// the magnitudes; the net's sums have K up to ~4600 (512 channels x 9 taps), and
// 17 layers with batch norm pass such errors on, so activations and gradients
// differ by ~1e-6 .. 1e-5 of their scale. The tolerances below sit 10-100x above
// that and orders of magnitude below what a wrong index, a missed tile or a
// mis-ordered update produces (errors of the size of the values themselves).
#include "cuda_testing.h"
#include "data_fixtures.h"

#include "data/loader.h"
#include "data/manifest.h"
#include "engine/autograd.h"
#include "engine/data/cache_file.h"
#include "engine/optim/adamw.h"
#include "models/depthwise_net.h"
#include "models/gradcam.h"
#include "models/inference.h"
#include "models/synthetic.h"
#include "models/trainer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace cxr {
namespace {

using testing::expect_bitwise_equal;
using testing::expect_close;

const Device kGpu = Device::cuda();

// The same net with the same parameters on the CPU and on the GPU.
struct Twin {
  Twin(const NetConfig& config, std::uint64_t seed)
      : cpu_net(config, seed + 1), gpu_net(config, seed + 1), cpu_params(cpu_net, seed), gpu_params(gpu_net, seed) {
    gpu_params.to(kGpu);
  }
  DepthwiseSeparableNet cpu_net, gpu_net;
  ParameterSet cpu_params, gpu_params;
};

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector()) m = std::max(m, std::abs(v));
  return m;
}

// |gpu - cpu| <= scale_atol * max|cpu| + rtol * |cpu|: for tensors whose elements
// span orders of magnitude (gradients, where the small ones come from cancelling
// sums), the absolute part is a share of the tensor's largest element.
void expect_close_to_scale(const Tensor& gpu, const Tensor& cpu, double scale_atol, double rtol,
                           const std::string& what) {
  SCOPED_TRACE(what);
  expect_close(gpu, cpu, scale_atol * max_abs(cpu), rtol);
}

// Euclidean norm of a - b, on the host.
double distance(const Tensor& a, const Tensor& b) {
  const auto x = a.to_vector(), y = b.to_vector();
  double s = 0;
  for (std::size_t i = 0; i < x.size(); ++i) s += (x[i] - y[i]) * (x[i] - y[i]);
  return std::sqrt(s);
}

TEST(CudaTraining, ParameterSetMovesEverySlotAndGradient) {
  CXR_REQUIRE_GPU();
  DepthwiseSeparableNet net(NetConfig::cxr_small().narrowed(0.25), 1);
  ParameterSet params(net, 2);
  const Tensor values = params.values().clone(), buffers = params.buffer_values().clone();

  params.to(kGpu);
  EXPECT_EQ(params.device(), kGpu);
  EXPECT_EQ(net.device(), kGpu);
  for (const auto& d : net.parameters()) {
    EXPECT_EQ(d.slot->device(), kGpu) << d.name;
    ASSERT_TRUE(d.slot->grad().defined()) << d.name;
    EXPECT_EQ(d.slot->grad().device(), kGpu) << d.name;
    EXPECT_TRUE(d.slot->requires_grad()) << d.name;
  }
  for (const auto& d : net.buffers()) EXPECT_EQ(d.slot->device(), kGpu) << d.name;
  expect_bitwise_equal(params.values(), values);
  expect_bitwise_equal(params.buffer_values(), buffers);
  // Each slot still views its own segment of the flat buffer.
  for (const auto& e : params.parameters())
    expect_bitwise_equal(e.tensor, values.view_of_storage(e.offset, e.tensor.shape()));
  // The flat gradient buffer and the slots' .grad are the same memory.
  params.grads().fill_(2.0);
  for (const auto& d : net.parameters()) EXPECT_EQ(d.slot->grad().at(0), 2.0) << d.name;

  params.to(Device::cpu());
  EXPECT_EQ(net.device(), Device::cpu());
  expect_bitwise_equal(params.values(), values);
  for (const auto& d : net.parameters()) EXPECT_TRUE(d.slot->device().is_cpu()) << d.name;
}

// Batch norms start at gamma = 1, beta = 0. The loss does not change when gamma and beta
// of a batch norm whose output reaches the next batch norm through ReLU and a
// convolution are scaled together, so gamma * dL/dgamma + beta * dL/dbeta = 0: at beta = 0
// the exact gamma gradient is 0, and both devices return only the rounding noise of a
// sum that cancels (seen on an H100: |g| ~1e-7 .. 1e-5, differing by ~10%). Random gamma
// and beta, as after some training, give every gradient a value to compare.
void randomise_batch_norm_affine(Twin& t, std::uint64_t seed) {
  Generator random(seed);
  for (std::size_t i = 0; i < t.cpu_params.parameters().size(); ++i) {
    const auto& c = t.cpu_params.parameters()[i];
    const std::string layer = c.name.substr(0, c.name.rfind('.'));  // stem_bn, blocks.3.bn1, ...
    if (!layer.ends_with("bn") && !layer.ends_with("bn1") && !layer.ends_with("bn2")) continue;
    const bool is_weight = c.name.ends_with(".weight");
    std::vector<double> v(static_cast<std::size_t>(c.tensor.numel()));
    for (double& x : v) x = is_weight ? random.uniform(0.5, 1.5) : random.uniform(-0.5, 0.5);
    Tensor cpu_value = c.tensor;
    cpu_value.copy_(Tensor::from_vector(v, c.tensor.shape()));
    Tensor gpu_value = t.gpu_params.parameters()[i].tensor;
    gpu_value.copy_(cpu_value);
  }
}

TEST(CudaTraining, OneStepOfTheReferenceNetMatchesTheCpu) {
  CXR_REQUIRE_GPU();
  Twin t(NetConfig::cxr_small(), 3);
  randomise_batch_norm_affine(t, 31);
  Generator data(4);
  const LabelledBatch batch = make_synthetic_batch(8, 48, data);
  t.cpu_net.train();
  t.gpu_net.train();

  const Tensor cpu_logits = t.cpu_net.forward(batch.images);
  const Tensor gpu_logits = t.gpu_net.forward(batch.images.to(kGpu));
  ASSERT_EQ(gpu_logits.device(), kGpu);
  expect_close(gpu_logits, cpu_logits, 1e-4, 1e-3);  // logits ~1; rounding differences ~1e-5
  // Batch statistics went into the running mean and variance of every batch norm.
  expect_close_to_scale(t.gpu_params.buffer_values(), t.cpu_params.buffer_values(), 1e-5, 1e-4, "running stats");

  Tensor cpu_loss = cross_entropy(cpu_logits, batch.labels);
  Tensor gpu_loss = cross_entropy(gpu_logits, batch.labels);
  expect_close(gpu_loss, cpu_loss, 0, 1e-4);
  cpu_loss.backward();
  gpu_loss.backward();
  for (std::size_t i = 0; i < t.cpu_params.parameters().size(); ++i) {
    const auto& c = t.cpu_params.parameters()[i];
    const auto& g = t.gpu_params.parameters()[i];
    ASSERT_EQ(c.name, g.name);
    // 1e-3 of the tensor's largest gradient: 100x the rounding noise of the
    // deepest sums (see the top), far below a wrong gradient's error.
    expect_close_to_scale(g.tensor.grad(), c.tensor.grad(), 1e-3, 1e-3, "gradient of " + c.name);
  }

  // The AdamW kernel on the same gradients: elementwise and with the same formula,
  // so the results differ by a few ulps at most (fused multiply-adds, division and
  // square root rounding); rtol 1e-6 is ~8 ulps, atol covers parameters near 0.
  t.gpu_params.grads().copy_(t.cpu_params.grads());
  AdamW cpu_opt(t.cpu_params, AdamWOptions{}), gpu_opt(t.gpu_params, AdamWOptions{});
  cpu_opt.step();
  gpu_opt.step();
  expect_close(gpu_opt.exp_avg(), cpu_opt.exp_avg(), 1e-12, 1e-6);
  expect_close(gpu_opt.exp_avg_sq(), cpu_opt.exp_avg_sq(), 1e-18, 1e-6);
  expect_close(t.gpu_params.values(), t.cpu_params.values(), 1e-9, 1e-6);
}

TEST(CudaTraining, FiveAdamWStepsFromTheSameSeedFollowTheCpu) {
  CXR_REQUIRE_GPU();
  Twin t(NetConfig::cxr_small(), 5);
  const Tensor start = t.cpu_params.values().clone();
  AdamW cpu_opt(t.cpu_params, AdamWOptions{}), gpu_opt(t.gpu_params, AdamWOptions{});
  Generator data(6);
  t.cpu_net.train();
  t.gpu_net.train();
  for (int step = 0; step < 5; ++step) {
    const LabelledBatch batch = make_synthetic_batch(8, 48, data);
    t.cpu_params.zero_grad();
    t.gpu_params.zero_grad();
    Tensor cpu_loss = cross_entropy(t.cpu_net.forward(batch.images), batch.labels);
    Tensor gpu_loss = cross_entropy(t.gpu_net.forward(batch.images.to(kGpu)), batch.labels);
    cpu_loss.backward();
    gpu_loss.backward();
    cpu_opt.step();
    gpu_opt.step();
    // Early Adam steps move every parameter by about lr whatever the size of its
    // gradient, so a parameter whose gradient is within rounding of 0 can step the
    // other way on the GPU. Such parameters barely affect the loss (their
    // gradient is ~0), so the losses stay within rounding; 1e-3 relative is far
    // above that and far below the change a wrong kernel makes.
    EXPECT_NEAR(gpu_loss.item(), cpu_loss.item(), 1e-3 * std::abs(cpu_loss.item())) << "step " << step;
  }
  // The same sign flips make elementwise parameter tolerances meaningless; the
  // distance between the runs must be a small share of the distance training
  // moved the parameters (a wrong update makes it of order 1).
  const double moved = distance(t.cpu_params.values(), start);
  const double apart = distance(t.gpu_params.values(), t.cpu_params.values());
  EXPECT_GT(moved, 0);
  EXPECT_LT(apart, 5e-2 * moved) << "runs " << apart << " apart after moving " << moved;

  // And the trained nets agree on new images (evaluation mode: running statistics).
  t.cpu_net.eval();
  t.gpu_net.eval();
  NoGradGuard no_grad;
  const LabelledBatch test = make_synthetic_batch(8, 48, data);
  const Tensor cpu_logits = t.cpu_net.forward(test.images);
  expect_close(t.gpu_net.forward(test.images.to(kGpu)), cpu_logits, 1e-3 * max_abs(cpu_logits), 1e-2);
}

// The twin in evaluation mode with non-trivial running statistics: one training
// forward on the CPU, its statistics copied to the GPU (so both see the same ones).
void with_running_statistics(Twin& t) {
  Generator data(8);
  const LabelledBatch batch = make_synthetic_batch(8, 64, data);
  t.cpu_net.train();
  {
    NoGradGuard no_grad;
    t.cpu_net.forward(batch.images);
  }
  t.gpu_params.buffer_values().copy_(t.cpu_params.buffer_values());
  t.cpu_net.eval();
  t.gpu_net.eval();
}

TEST(CudaTraining, BatchedPredictionMatchesTheCpu) {
  CXR_REQUIRE_GPU();
  NetConfig config = NetConfig::cxr_small();
  config.input_size = 64;
  Twin t(config, 9);
  with_running_statistics(t);
  Generator data(10);
  const Tensor images = make_synthetic_batch(5, 64, data).images;  // on the host: predict copies it
  const auto cpu = predict_probabilities(t.cpu_net, images);       // folded batch norm
  const auto gpu = predict_probabilities(t.gpu_net, images);       // unfolded on the GPU
  ASSERT_EQ(gpu.size(), cpu.size());
  for (std::size_t i = 0; i < cpu.size(); ++i)
    for (std::size_t c = 0; c < cpu[i].size(); ++c)
      EXPECT_NEAR(gpu[i][c], cpu[i][c], 1e-5) << "image " << i << " class " << c;  // probabilities in [0, 1]
}

TEST(CudaTraining, GradCamAndGradCamPlusPlusMatchTheCpu) {
  CXR_REQUIRE_GPU();
  NetConfig config = NetConfig::cxr_small();
  config.input_size = 64;
  Twin t(config, 11);
  with_running_statistics(t);
  Generator data(12);
  const Tensor image = make_synthetic_batch(1, 64, data).images;
  for (CamMethod method : {CamMethod::GradCam, CamMethod::GradCamPlusPlus}) {
    for (const std::string layer : {"", "blocks.3", "stem"}) {
      SCOPED_TRACE(cam_method_name(method) + " at " + (layer.empty() ? "the default layer" : layer));
      const Heatmap c = explain(t.cpu_net, image, method, -1, layer);
      // The CPU's class, so that a near tie cannot make the two explain different classes.
      const Heatmap g = explain(t.gpu_net, image, method, c.target_class, layer);
      EXPECT_EQ(g.layer, c.layer);
      ASSERT_EQ(g.probabilities.size(), c.probabilities.size());
      for (std::size_t k = 0; k < c.probabilities.size(); ++k)
        EXPECT_NEAR(g.probabilities[k], c.probabilities[k], 1e-5);
      EXPECT_TRUE(g.map.device().is_cpu() && g.feature_map.device().is_cpu());
      expect_close_to_scale(g.feature_map, c.feature_map, 1e-4, 1e-3, "feature map A");
      expect_close_to_scale(g.feature_grad, c.feature_grad, 1e-3, 1e-3, "gradient dscore/dA");
      // Grad-CAM++ cubes the gradients, tripling their relative error.
      expect_close_to_scale(g.coarse, c.coarse, 3e-3, 3e-3, "coarse map");
      expect_close(g.map, c.map, 3e-3, 0);  // normalised to [0, 1]
    }
  }
}

// A built dataset directory of n 24 x 24 images (data_fixtures.h patterns), labels
// cycling 0..3, every 4th image in the validation split.
std::filesystem::path write_dataset(const test::TempDir& dir, int n) {
  constexpr int kSize = 24;
  const std::filesystem::path path = dir / "data";
  std::filesystem::create_directories(path);
  data::CacheWriter cache(path / "cache.bin", {static_cast<std::uint64_t>(n), kSize, 4, 0.5f, 0.25f});
  std::vector<data::ManifestRow> rows;
  for (int i = 0; i < n; ++i) {
    cache.write(test::pattern(kSize, kSize, 1, i).data());
    rows.push_back({i, data::Source::kermany, fmt::format("s{}.png", i), fmt::format("kermany:s{}", i), i % 4,
                    i % 4 == 3 ? data::Split::val : data::Split::train, "PA", std::string(64, '0')});
  }
  cache.close();
  data::write_manifest(path / "manifest.csv", rows, 4);
  return path;
}

TEST(CudaTraining, LoaderAugmentsTheSameBatchesOnTheGpu) {
  CXR_REQUIRE_GPU();
  test::TempDir dir;
  const data::Dataset ds = data::Dataset::open(write_dataset(dir, 40));
  data::LoaderOptions o;
  o.batch_size = 8;
  o.workers = 2;
  o.seed = 3;
  o.augment = data::AugmentOptions{};
  data::Loader cpu(ds, ds.indices(data::Split::train), o);
  o.device = kGpu;
  data::Loader gpu(ds, ds.indices(data::Split::train), o);
  for (std::int64_t epoch = 0; epoch < 2; ++epoch) {
    cpu.start_epoch(epoch);
    gpu.start_epoch(epoch);
    while (auto c = cpu.next()) {
      auto g = gpu.next();
      ASSERT_TRUE(g.has_value());
      EXPECT_EQ(g->indices, c->indices);
      EXPECT_EQ(g->labels, c->labels);
      ASSERT_EQ(g->images.device(), kGpu);
      // test_cuda_augment's bound: a few ulps of the 0..255 intensity where the two
      // compilers fuse different products, through the 1/255 gain and 1/stddev = 4.
      expect_close(g->images, c->images, 1e-5, 0);
    }
    EXPECT_FALSE(gpu.next().has_value());
  }
}

TEST(CudaTraining, TrainOnTheGpuFollowsTheCpuRun) {
  CXR_REQUIRE_GPU();
  test::TempDir dir;
  TrainOptions o;
  o.data_dir = write_dataset(dir, 128);
  o.width = 0.25;
  o.epochs = 2;
  o.batch = 16;
  o.lr = 3e-3;
  o.workers = 1;
  o.patience = 0;
  struct Run {
    TrainPlan plan;
    std::vector<double> losses;
    TrainResult result;
  };
  auto run = [&](const std::string& device) {
    Run r;
    TrainOptions ro = o;
    ro.device = device;
    ro.out = dir / device / "model.safetensors";
    std::filesystem::create_directories(ro.out.parent_path());
    TrainCallbacks cb;
    cb.on_start = [&](const TrainPlan& p) {
      r.plan = p;
    };
    cb.on_step = [&](const StepReport& s) {
      r.losses.push_back(s.loss);
    };
    r.result = train(ro, nullptr, cb);
    return r;
  };
  const Run cpu = run("cpu"), gpu = run("cuda");
  EXPECT_EQ(cpu.plan.device, "cpu");
  EXPECT_EQ(gpu.plan.device, "cuda:0");
  ASSERT_EQ(gpu.losses.size(), cpu.losses.size());
  ASSERT_EQ(cpu.losses.size(), 12u);  // 96 train images: 6 batches of 16, 2 epochs
  // As in the five-step test: the same batches (augmented to 1e-5), float rounding
  // in every sum and AdamW's early sign-like steps on near-zero gradients keep the
  // losses within ~1e-5 relative over 12 steps; 2e-3 leaves room and still catches
  // a wrong kernel, a batch on the wrong device or a different augmentation.
  for (std::size_t i = 0; i < cpu.losses.size(); ++i)
    EXPECT_NEAR(gpu.losses[i], cpu.losses[i], 2e-3 * std::abs(cpu.losses[i])) << "step " << i;
  ASSERT_EQ(gpu.result.history.size(), cpu.result.history.size());
  for (std::size_t e = 0; e < cpu.result.history.size(); ++e)
    EXPECT_NEAR(gpu.result.history[e].val_loss, cpu.result.history[e].val_loss,
                2e-3 * std::abs(cpu.result.history[e].val_loss))
        << "epoch " << e + 1;
  EXPECT_TRUE(std::filesystem::exists(gpu.result.model_path));  // written through the host
}

}  // namespace
}  // namespace cxr
