// The DCGAN (models/gan_*): learning a toy image distribution, bit-identical runs
// under a seed and across a checkpoint, checkpoint and data errors, and the
// `cxr gan` command as a user runs it.
#include "base/check.h"
#include "data_fixtures.h"
#include "engine/io/safetensors.h"
#include "finetune_fixtures.h"
#include "models/feature_head.h"
#include "models/frechet_distance.h"
#include "models/gan_data.h"
#include "models/gan_evaluation.h"
#include "models/gan_montage.h"
#include "models/gan_trainer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <vector>

namespace cxr {
namespace {

GanConfig tiny_config() {
  GanConfig c;
  c.image_size = 8;
  c.latent = 8;
  c.generator_width = 4;
  c.discriminator_width = 4;
  return c;
}

// The toy target: 8 x 8 images, each a constant brightness drawn from
// N(0.4, 0.2^2), plus a fixed left-to-right ramp of height 0.3 (so the mean and the
// spread of the pixels are both far from a fresh generator's ~0 and ~0.5).
Tensor toy_images(std::int64_t count, std::uint64_t seed) {
  Generator gen(seed);
  Tensor images = Tensor::empty({count, 1, 8, 8});
  float* p = images.data<float>();
  for (std::int64_t i = 0; i < count; ++i) {
    const double level = 0.4 + 0.2 * gen.normal();
    for (int y = 0; y < 8; ++y)
      for (int x = 0; x < 8; ++x) *p++ = static_cast<float>(level + 0.3 * (x / 7.0 - 0.5));
  }
  return images;
}

struct Moments {
  double mean = 0, stddev = 0;
};

Moments moments(const Tensor& t) {
  const std::vector<double> v = t.to_vector();
  Moments m;
  for (const double x : v) m.mean += x;
  m.mean /= static_cast<double>(v.size());
  for (const double x : v) m.stddev += (x - m.mean) * (x - m.mean);
  m.stddev = std::sqrt(m.stddev / static_cast<double>(v.size()));
  return m;
}

double moment_error(const Moments& a, const Moments& b) {
  return std::abs(a.mean - b.mean) + std::abs(a.stddev - b.stddev);
}

bool same_values(const Tensor& a, const Tensor& b) {
  return a.to_vector() == b.to_vector();
}

TEST(GanNet, ShapesFollowTheConfig) {
  GanConfig c = tiny_config();
  c.image_size = 32;
  GanGenerator g(c);
  GanDiscriminator d(c);
  ParameterSet gp(g, 1), dp(d, 2);
  const Tensor images = g.forward(Tensor::zeros({3, c.latent}));
  EXPECT_EQ(images.shape(), (Shape{3, 1, 32, 32}));
  for (const double v : images.to_vector()) EXPECT_TRUE(v > -1 && v < 1);  // tanh
  EXPECT_EQ(d.forward(images).shape(), (Shape{3, 1}));
  c.image_size = 48;
  EXPECT_THROW(GanGenerator bad(c), Error);
  EXPECT_THROW(g.forward(Tensor::zeros({3, c.latent + 1})), Error);
}

// Progress on a toy target: after 300 steps the generated pixels' mean and standard
// deviation are much closer to the data's than at initialisation. The bound (a third
// of the initial error) leaves room for a GAN's oscillation: with seeds 1, 2 and 3 the
// error fell from 0.66, 0.70 and 0.46 to 0.09, 0.08 and 0.08.
TEST(GanTrainer, LearnsTheMomentsOfAToyImageDistribution) {
  const Tensor images = toy_images(256, 7);
  const Moments data = moments(images);
  GanTrainer trainer(tiny_config(), {.batch_size = 16, .lr = 2e-3, .seed = 1});
  const double before = moment_error(moments(sample_gan(trainer.generator(), 8, 256, 3)), data);
  for (int i = 0; i < 300; ++i) {
    const GanStepResult r = trainer.step(images);
    ASSERT_TRUE(std::isfinite(r.discriminator_loss) && std::isfinite(r.generator_loss));
  }
  const double after = moment_error(moments(sample_gan(trainer.generator(), 8, 256, 3)), data);
  EXPECT_LT(after, before / 3) << "before " << before << " after " << after;
}

TEST(GanTrainer, SameSeedSameWeightsOtherSeedOtherWeights) {
  const Tensor images = toy_images(32, 1);
  GanTrainer a(tiny_config(), {.batch_size = 4, .seed = 5}), b(tiny_config(), {.batch_size = 4, .seed = 5}),
      c(tiny_config(), {.batch_size = 4, .seed = 6});
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(a.step(images).generator_loss, b.step(images).generator_loss);
    c.step(images);
  }
  EXPECT_TRUE(same_values(a.generator_parameters().values(), b.generator_parameters().values()));
  EXPECT_TRUE(same_values(a.discriminator_parameters().values(), b.discriminator_parameters().values()));
  EXPECT_FALSE(same_values(a.generator_parameters().values(), c.generator_parameters().values()));
  EXPECT_TRUE(same_values(sample_gan(a.generator(), 8, 4, 9), sample_gan(b.generator(), 8, 4, 9)));
}

// A run stopped after 2 steps and resumed from its checkpoint ends where an
// uninterrupted 4-step run does, bit for bit (weights, BN statistics, Adam moments,
// the batch and latent stream).
TEST(GanTrainer, ResumedRunMatchesAnUninterruptedOne) {
  test::TempDir dir;
  const std::string path = (dir / "g.gan").string();
  const Tensor images = toy_images(32, 2);
  const GanTrainOptions options{.batch_size = 4, .seed = 11};
  GanTrainer straight(tiny_config(), options);
  for (int i = 0; i < 4; ++i) straight.step(images);
  GanTrainer first(tiny_config(), options);
  for (int i = 0; i < 2; ++i) first.step(images);
  first.save(path, {{"class", "covid"}});
  GanTrainer resumed = GanTrainer::load(path);
  EXPECT_EQ(resumed.steps(), 2);
  EXPECT_EQ(resumed.metadata().at("class"), "covid");
  for (int i = 0; i < 2; ++i) resumed.step(images);
  EXPECT_TRUE(same_values(straight.generator_parameters().values(), resumed.generator_parameters().values()));
  EXPECT_TRUE(
      same_values(straight.generator_parameters().buffer_values(), resumed.generator_parameters().buffer_values()));
  EXPECT_TRUE(same_values(straight.discriminator_parameters().values(), resumed.discriminator_parameters().values()));
}

TEST(GanTrainer, RefusesBadOptionsImagesAndFiles) {
  EXPECT_THROW(GanTrainer(tiny_config(), {.batch_size = 1}), Error);
  EXPECT_THROW(GanTrainer(tiny_config(), {.lr = 0}), Error);
  GanTrainer trainer(tiny_config(), {.batch_size = 4});
  EXPECT_THROW(trainer.step(Tensor::zeros({4, 1, 16, 16})), Error);  // wrong size
  test::TempDir dir;
  const std::string other = (dir / "other.safetensors").string();
  save_safetensors(other, {{"w", Tensor::zeros({2})}}, {{"format", "cxr-seg"}});
  try {
    GanTrainer::load(other);
    FAIL() << "loaded a file that is not a GAN checkpoint";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cxr-gan"), std::string::npos) << e.what();
  }
}

TEST(GanData, TakesOneClassesFrontalTrainImagesInTanhRange) {
  test::TempDir dir;
  test::write_stripes_dataset(dir / "data", 24, {12, 4, 4}, 3);
  const data::Dataset dataset = data::Dataset::open(dir / "data");
  const GanImages covid = load_gan_images(dataset, data::Split::train, "covid", 8);
  EXPECT_EQ(covid.rows.size(), 3u);  // labels cycle over 4 classes: rows 0, 4, 8
  EXPECT_EQ(covid.images.shape(), (Shape{3, 1, 8, 8}));
  for (const double v : covid.images.to_vector()) EXPECT_TRUE(v >= -1 && v <= 1);
  EXPECT_THROW(load_gan_images(dataset, data::Split::train, "nosuch", 8), Error);
  EXPECT_TRUE(is_frontal_view("PA") && is_frontal_view("AP Supine"));
  EXPECT_FALSE(is_frontal_view("L") || is_frontal_view("") || is_frontal_view("Axial"));
  EXPECT_EQ(gan_pixel_to_byte(-1.0f), 0);
  EXPECT_EQ(gan_pixel_to_byte(1.0f), 255);
  EXPECT_EQ(gan_image(covid.images, 0).pixels.size(), 64u);
}

TEST(GanMontage, TilesAreScaledAndSeparated) {
  const data::GreyImage a{2, 2, {0, 0, 0, 0}}, b{2, 2, {255, 255, 255, 255}};
  const RgbImage grid = tile_grid({a, b, a}, 2, 2, 1);
  EXPECT_EQ(grid.width, 2 * 4 + 3);
  EXPECT_EQ(grid.height, 2 * 4 + 3);
  EXPECT_EQ(grid.pixels[(1 * grid.width + 1) * 3], 0);    // first tile
  EXPECT_EQ(grid.pixels[(1 * grid.width + 6) * 3], 255);  // second tile
  EXPECT_EQ(grid.pixels[(0 * grid.width + 0) * 3], 128);  // gap
}

TEST(FrechetDistance, MatchesTheClosedFormOfKnownSets) {
  // {(±1, ±2)}: mean 0, unbiased covariance diag(4/3, 16/3); shifted by (3, 0) and
  // scaled by 2: mean (3, 0), covariance diag(16/3, 64/3). For diagonal covariances
  // d^2 = |dmu|^2 + sum (sqrt(a_i) - sqrt(b_i))^2 = 9 + 4/3 + 16/3.
  const FeatureRows a{{1, 2}, {1, -2}, {-1, 2}, {-1, -2}};
  FeatureRows b;
  for (const auto& r : a) b.push_back({3 + 2 * r[0], 2 * r[1]});
  // Tolerance: C C^T has zero eigenvalues here (rank 2 of 4); Jacobi leaves them at
  // ~1e-16 |C C^T| and the square root turns that into ~1e-7, as for any sqrtm.
  EXPECT_NEAR(frechet_distance(a, b), 9 + 4.0 / 3 + 16.0 / 3, 1e-6);
  EXPECT_NEAR(frechet_distance(a, a), 0, 1e-6);
  EXPECT_NEAR(frechet_distance(b, a), frechet_distance(a, b), 1e-6);
  EXPECT_THROW(frechet_distance({{1, 2}}, a), Error);
  EXPECT_THROW(frechet_distance({{1}, {2}}, a), Error);
  std::vector<double> e = symmetric_eigenvalues({2, 1, 0, 1, 2, 0, 0, 0, 5}, 3);
  std::sort(e.begin(), e.end());
  EXPECT_NEAR(e[0], 1, 1e-12);
  EXPECT_NEAR(e[1], 3, 1e-12);
  EXPECT_NEAR(e[2], 5, 1e-12);
}

TEST(LinearHead, SeparatesLinearlySeparableFeatures) {
  FeatureRows train, test;
  std::vector<int> labels, truth;
  Generator gen(4);
  for (int i = 0; i < 90; ++i) {
    const int c = i % 3;
    std::vector<double> r{gen.normal() * 0.3, gen.normal() * 0.3};
    r[c == 2 ? 1 : 0] += c == 1 ? -3 : 3;
    (i < 60 ? train : test).push_back(r);
    (i < 60 ? labels : truth).push_back(c);
  }
  EXPECT_EQ(fit_and_predict_linear_head(train, labels, 3, test, {.epochs = 60, .batch_size = 16, .lr = 0.05}), truth);
  EXPECT_THROW(fit_and_predict_linear_head(train, {0}, 3, test, {}), Error);
}

// The whole evaluation on the stripes task with a tiny classifier: every number is
// there and finite, each arm has one F1 row per seed, the closest pairs are sorted.
TEST(GanEvaluation, ReportsDistancesNeighboursAndAugmentationArms) {
  test::TempDir dir;
  test::write_stripes_dataset(dir / "data", 24, {24, 4, 12}, 3);
  const data::Dataset dataset = data::Dataset::open(dir / "data");
  LoadedModel classifier = test::tiny_four_class_model(24, 5);
  GanTrainer gan(tiny_config(), {.batch_size = 4});
  GanEvaluationOptions options;
  options.generated = 10;
  options.head_seeds = {1, 2};
  const GanEvaluation e = evaluate_gan(gan, dataset, classifier, options);
  EXPECT_EQ(e.train_real, 6);
  EXPECT_EQ(e.test_real, 3);
  for (const double fd :
       {e.fd_generated_train_small, e.fd_test_train_small, e.fd_generated_test_small, e.fd_test_train})
    EXPECT_TRUE(std::isfinite(fd) && fd > -1e-6) << fd;
  EXPECT_LE(e.pixel_generated.min, e.pixel_generated.median);
  ASSERT_EQ(e.closest.size(), 8u);
  for (std::size_t i = 1; i < e.closest.size(); ++i)
    EXPECT_LE(e.closest[i - 1].pixel_distance, e.closest[i].pixel_distance);
  ASSERT_EQ(e.arms.size(), 3u);
  EXPECT_EQ(e.arms[1].train_images, e.arms[0].train_images + 10);
  for (const AugmentationArm& arm : e.arms) {
    ASSERT_EQ(arm.f1.size(), 2u);
    EXPECT_EQ(arm.f1[0].size(), 4u);
  }
  GanEvaluationOptions unknown = options;
  unknown.class_name = "nosuch";
  EXPECT_THROW(evaluate_gan(gan, dataset, classifier, unknown), Error);
}

// `cxr gan train` and `cxr gan sample` as a user runs them (skipped where the
// program is not built).
TEST(GanCommand, TrainsResumesSamplesAndRefusesMistakes) {
  const char* binary = std::getenv("CXR_BINARY");
  if (binary == nullptr || !std::filesystem::exists(binary)) GTEST_SKIP() << "cxr is not built";
  test::TempDir dir;
  const auto d = dir.path();
  test::write_stripes_dataset(d / "data", 24, {16, 4, 4}, 3);
  const auto run = [&](const std::string& args) {
    return std::system(fmt::format("\"{}\" gan {} > \"{}\" 2>&1", binary, args, (d / "log.txt").string()).c_str());
  };
  const std::string train = fmt::format(
      "train --data \"{}\" --out \"{}\" --size 8 --latent 4 --generator-width 2 --discriminator-width 2 --batch 4",
      (d / "data").string(), (d / "g.gan").string());
  ASSERT_EQ(run(train + " --steps 2"), 0) << test::read_file(d / "log.txt");
  EXPECT_NE(run(train + " --steps 3"), 0);  // exists, no --resume
  EXPECT_NE(test::read_file(d / "log.txt").find("--resume"), std::string::npos);
  ASSERT_EQ(run(train + " --steps 3 --resume"), 0) << test::read_file(d / "log.txt");
  EXPECT_EQ(GanTrainer::load((d / "g.gan").string()).steps(), 3);
  EXPECT_NE(
      run(fmt::format("train --data \"{}\" --out \"{}\" --size 48", (d / "data").string(), (d / "h.gan").string())), 0);
  EXPECT_NE(run(fmt::format("train --data \"{}\" --out \"{}\" --class nosuch --size 8 --steps 1", (d / "data").string(),
                            (d / "h.gan").string())),
            0);
  EXPECT_FALSE(std::filesystem::exists(d / "h.gan"));

  ASSERT_EQ(run(fmt::format("sample --model \"{}\" --count 3 --out \"{}\" --grid \"{}\"", (d / "g.gan").string(),
                            (d / "s").string(), (d / "grid.png").string())),
            0)
      << test::read_file(d / "log.txt");
  for (int i = 0; i < 3; ++i) {
    const auto png = d / "s" / fmt::format("synthetic-covid-1-{:04d}.png", i);
    ASSERT_TRUE(std::filesystem::exists(png)) << png;
    const auto text = png_text_chunks(test::read_file(png));
    ASSERT_EQ(text.size(), 2u);
    EXPECT_NE(text[1].second.find("synthetic"), std::string::npos);
  }
  EXPECT_TRUE(std::filesystem::exists(d / "grid.png"));
  EXPECT_NE(run(fmt::format("sample --model \"{}\" --count 3 --out \"{}\"", (d / "data" / "manifest.csv").string(),
                            (d / "t").string())),
            0);
}

}  // namespace
}  // namespace cxr
