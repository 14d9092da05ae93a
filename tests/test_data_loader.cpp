// Loading for training (engine/data/{dataset,loader,augment}.h): normalisation,
// per-epoch seeded order, class (target) balancing, prefetching workers, augmentation.
#include "base/check.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "data/manifest.h"
#include "data_fixtures.h"
#include "engine/data/cache_file.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

using namespace cxr::data;
using cxr::test::TempDir;

namespace {

constexpr int kSize = 12;

// n images of kSize x kSize; image i has label labels[i % labels.size()] and
// split train except every 5th (val).
Dataset make_dataset(const TempDir& dir, int n, const std::vector<int>& labels, float mean = 0.25f,
                     float stddev = 0.5f) {
  CacheWriter cache(dir / "cache.bin", {static_cast<std::uint64_t>(n), kSize, 4, mean, stddev});
  std::vector<ManifestRow> rows;
  for (int i = 0; i < n; ++i) {
    cache.write(cxr::test::pattern(kSize, kSize, 1, i).data());
    rows.push_back({i, Source::kermany, fmt::format("train/x{}.png", i), fmt::format("kermany:p{}", i),
                    labels[i % labels.size()], i % 5 == 4 ? Split::val : Split::train, "AP", std::string(64, '0')});
  }
  cache.close();
  write_manifest(dir / "manifest.csv", rows, 4);
  return Dataset::open(dir.path());
}

std::vector<Batch> epoch(Loader& loader, std::int64_t e) {
  loader.start_epoch(e);
  std::vector<Batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}

std::vector<std::int64_t> order_of(const std::vector<Batch>& batches) {
  std::vector<std::int64_t> out;
  for (const auto& b : batches) out.insert(out.end(), b.indices.begin(), b.indices.end());
  return out;
}

}  // namespace

TEST(DataDataset, OpensAndChecksTheCacheAndManifest) {
  TempDir dir;
  const auto ds = make_dataset(dir, 20, {0, 1, 2, 3});
  EXPECT_EQ(ds.size(), 20);
  EXPECT_EQ(ds.image_size(), kSize);
  EXPECT_EQ(ds.indices(Split::val), (std::vector<std::int64_t>{4, 9, 14, 19}));
  EXPECT_TRUE(ds.indices(Split::test).empty());
  EXPECT_EQ(ds.label(6), 2);
  const auto px = cxr::test::pattern(kSize, kSize, 1, 13);
  EXPECT_TRUE(std::equal(px.begin(), px.end(), ds.pixels(13)));

  // A truncated cache, a bad magic, a manifest that disagrees: clear errors.
  const std::string cache = cxr::test::read_file(dir / "cache.bin");
  cxr::test::write_file(dir / "cache.bin", cache.substr(0, cache.size() - 1));
  EXPECT_THROW(Dataset::open(dir.path()), cxr::Error);
  cxr::test::write_file(dir / "cache.bin", "NOTACACH" + cache.substr(8));
  EXPECT_THROW(Dataset::open(dir.path()), cxr::Error);
  cxr::test::write_file(dir / "cache.bin", cache);
  const std::string manifest = cxr::test::read_file(dir / "manifest.csv");
  cxr::test::write_file(dir / "manifest.csv", manifest.substr(0, manifest.rfind('\n', manifest.size() - 2) + 1));
  EXPECT_THROW(Dataset::open(dir.path()), cxr::Error);  // 19 rows, 20 images
}

TEST(DataLoader, BatchesAreNormalisedImagesAndLabels) {
  TempDir dir;
  const auto ds = make_dataset(dir, 23, {0, 1, 2, 3});
  LoaderOptions opt;
  opt.batch_size = 5;
  opt.shuffle = false;
  Loader loader(ds, ds.indices(Split::train), opt);  // 19 images (after the val ones)
  EXPECT_EQ(loader.batches_per_epoch(), 4);
  const auto batches = epoch(loader, 0);
  ASSERT_EQ(batches.size(), 4u);
  EXPECT_EQ(batches[3].images.shape(), (cxr::Shape{4, 1, kSize, kSize}));  // the last, partial batch
  EXPECT_EQ(order_of(batches), ds.indices(Split::train));
  for (const auto& b : batches) {
    for (std::size_t j = 0; j < b.indices.size(); ++j) {
      EXPECT_EQ(b.labels[j], ds.label(b.indices[j]));
      const std::uint8_t* px = ds.pixels(b.indices[j]);
      const float* x = b.images.data<float>() + j * kSize * kSize;
      // (p / 255 - 0.25) / 0.5 computed as p * scale + shift: a few float ulps.
      for (int i = 0; i < kSize * kSize; ++i) EXPECT_NEAR(x[i], (px[i] / 255.0 - 0.25) / 0.5, 1e-6);
    }
  }
  opt.drop_last = true;
  Loader dropping(ds, ds.indices(Split::train), opt);
  EXPECT_EQ(dropping.batches_per_epoch(), 3);
  EXPECT_EQ(epoch(dropping, 0).size(), 3u);
}

TEST(DataLoader, EachEpochIsASeededPermutation) {
  TempDir dir;
  const auto ds = make_dataset(dir, 60, {0, 1});
  std::vector<std::int64_t> all(60);
  for (int i = 0; i < 60; ++i) all[i] = i;
  LoaderOptions opt;
  opt.batch_size = 7;
  opt.seed = 5;
  Loader a(ds, all, opt), b(ds, all, opt);
  const auto e0 = order_of(epoch(a, 0)), e1 = order_of(epoch(a, 1));
  EXPECT_EQ(std::set<std::int64_t>(e0.begin(), e0.end()).size(), 60u);  // a permutation
  EXPECT_NE(e0, all);
  EXPECT_NE(e0, e1);
  EXPECT_EQ(order_of(epoch(b, 1)), e1);  // any epoch can be replayed
  EXPECT_EQ(order_of(epoch(b, 0)), e0);
  opt.seed = 6;
  Loader c(ds, all, opt);
  EXPECT_NE(order_of(epoch(c, 0)), e0);
}

TEST(DataLoader, ClassBalancedSamplingEvensOutTheClasses) {
  TempDir dir;
  // 90 % class 0, the rest spread over 1..3.
  std::vector<int> labels(100, 0);
  labels[10] = 1, labels[20] = 2, labels[30] = 3, labels[40] = 3;
  const auto ds = make_dataset(dir, 2000, labels);
  std::vector<std::int64_t> all(2000);
  for (int i = 0; i < 2000; ++i) all[i] = i;
  LoaderOptions opt;
  opt.batch_size = 100;
  opt.class_balanced = true;
  Loader loader(ds, all, opt);
  std::map<int, int> counts;
  for (const auto& b : epoch(loader, 0))
    for (int l : b.labels) ++counts[l];
  // 2000 draws, p = 1/4: standard deviation sqrt(2000 * 3/16) = 19.4; 5 sigma = 97.
  for (int c = 0; c < 4; ++c) EXPECT_NEAR(counts[c], 500, 97) << "class " << c;
}

TEST(DataLoader, ClassBalancedSamplingCountsALabelSetAsOneTarget) {
  TempDir dir;
  // Targets 1 (normal) and 4 (the label set pneumonia) only, 9:1.
  std::vector<int> labels(10, 1);
  labels[3] = 4;
  const auto ds = make_dataset(dir, 1000, labels);
  EXPECT_EQ(ds.num_targets(), 5);
  EXPECT_EQ(ds.target_names().back(), "pneumonia");
  std::vector<std::int64_t> all(1000);
  for (int i = 0; i < 1000; ++i) all[i] = i;
  LoaderOptions opt;
  opt.batch_size = 100;
  opt.class_balanced = true;
  Loader loader(ds, all, opt);
  std::map<int, int> counts;
  for (const auto& b : epoch(loader, 0))
    for (int l : b.labels) ++counts[l];
  // Uniform over the two targets present: 1000 draws, p = 1/2, sigma 15.8; 5 sigma = 79.
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_NEAR(counts[1], 500, 79);
  EXPECT_NEAR(counts[4], 500, 79);
}

TEST(DataLoader, SampleWeightsDrawInProportionAndNeverAZeroWeight) {
  TempDir dir;
  const auto ds = make_dataset(dir, 400, {0, 1, 2, 3});
  std::vector<std::int64_t> some{0, 1, 2, 3, 4, 5, 6, 7};
  LoaderOptions opt;
  opt.batch_size = 64;
  opt.sample_weights = {1, 1, 2, 0, 4, 0, 0, 0};  // shares 1/8, 1/8, 2/8, 0, 4/8
  Loader loader(ds, some, opt);
  std::map<std::int64_t, int> counts;
  int draws = 0;
  for (std::int64_t e = 0; e < 100; ++e)  // 800 draws
    for (auto i : order_of(epoch(loader, e))) ++counts[i], ++draws;
  ASSERT_EQ(draws, 800);
  EXPECT_EQ(counts.count(3) + counts.count(5) + counts.count(6) + counts.count(7), 0u);
  // Binomial(800, p): 5 sigma is at most 5 * sqrt(800 / 4) = 71.
  EXPECT_NEAR(counts[0], 100, 5 * std::sqrt(800 * 0.125 * 0.875));
  EXPECT_NEAR(counts[1], 100, 5 * std::sqrt(800 * 0.125 * 0.875));
  EXPECT_NEAR(counts[2], 200, 5 * std::sqrt(800 * 0.25 * 0.75));
  EXPECT_NEAR(counts[4], 400, 5 * std::sqrt(800 * 0.5 * 0.5));
  // Seeded: the same epoch twice is the same draw.
  EXPECT_EQ(order_of(epoch(loader, 3)), order_of(epoch(loader, 3)));
}

TEST(DataLoader, SampleWeightsMustFitTheIndices) {
  TempDir dir;
  const auto ds = make_dataset(dir, 10, {0});
  LoaderOptions opt;
  opt.sample_weights = {1, 2};
  EXPECT_THROW(Loader(ds, {0, 1, 2}, opt), cxr::Error);
  opt.sample_weights = {1, -1, 1};
  EXPECT_THROW(Loader(ds, {0, 1, 2}, opt), cxr::Error);
  opt.sample_weights = {0, 0, 0};
  EXPECT_THROW(Loader(ds, {0, 1, 2}, opt), cxr::Error);
}

TEST(DataLoader, WorkersChangeNothingButSpeed) {
  TempDir dir;
  const auto ds = make_dataset(dir, 50, {0, 1, 2, 3});
  std::vector<std::int64_t> all(50);
  for (int i = 0; i < 50; ++i) all[i] = i;
  LoaderOptions opt;
  opt.batch_size = 4;
  opt.seed = 9;
  opt.augment = AugmentOptions{};
  opt.workers = 0;
  Loader inline_loader(ds, all, opt);
  opt.workers = 3;
  opt.prefetch = 2;
  Loader threaded(ds, all, opt);
  for (int e = 0; e < 2; ++e) {
    const auto a = epoch(inline_loader, e), b = epoch(threaded, e);
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t k = 0; k < a.size(); ++k) {
      EXPECT_EQ(a[k].indices, b[k].indices);
      EXPECT_EQ(a[k].images.to_vector(), b[k].images.to_vector()) << "epoch " << e << " batch " << k;
    }
  }
  // Abandoning an epoch half way and starting another must not hang or mix batches.
  threaded.start_epoch(5);
  ASSERT_TRUE(threaded.next());
  const auto again = epoch(threaded, 5);
  inline_loader.start_epoch(5);
  EXPECT_EQ(order_of(again), order_of(epoch(inline_loader, 5)));
}

TEST(DataLoader, RejectsBadArguments) {
  TempDir dir;
  const auto ds = make_dataset(dir, 10, {0});
  EXPECT_THROW(Loader(ds, {0, 10}, {}), cxr::Error);
  LoaderOptions opt;
  opt.batch_size = 0;
  EXPECT_THROW(Loader(ds, {0}, opt), cxr::Error);
  Loader loader(ds, {0, 1}, {});
  EXPECT_THROW(loader.next(), cxr::Error);  // before start_epoch
}

TEST(DataAugment, IdentityParametersOnlyNormalise) {
  const auto px = cxr::test::pattern(kSize, kSize, 1, 3);
  std::vector<float> plain(kSize * kSize), warped(kSize * kSize);
  normalize_image(plain.data(), px.data(), kSize * kSize, 0.3f, 0.2f);
  augment_image(warped.data(), px.data(), kSize, AugmentParams{}, 0.3f, 0.2f);
  // Same value through two float formulas: a few ulps of numbers up to |3.5|.
  for (int i = 0; i < kSize * kSize; ++i) EXPECT_NEAR(warped[i], plain[i], 1e-5) << i;
}

TEST(DataAugment, GeometryFlipRotationTranslation) {
  const int n = kSize;
  const auto px = cxr::test::pattern(n, n, 1, 8);
  auto value = [&](int x, int y) {
    return px[y * n + x] / 255.0;
  };
  std::vector<float> out(n * n);
  // mean 0, stddev 1: outputs are intensities in [0, 1]. Tolerances: bilinear
  // weights at exact pixel positions are 0 or 1 up to float rounding (1e-5).
  AugmentParams p;
  p.flip = true;
  augment_image(out.data(), px.data(), n, p, 0.0f, 1.0f);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) EXPECT_NEAR(out[y * n + x], value(n - 1 - x, y), 1e-5);

  p = {};
  p.angle = 3.14159265358979323846 / 2;  // a quarter turn about the centre
  augment_image(out.data(), px.data(), n, p, 0.0f, 1.0f);
  // The inverse map sends output (x, y) to source (c + (y - c), c - (x - c)).
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) EXPECT_NEAR(out[y * n + x], value(y, n - 1 - x), 1e-5) << x << "," << y;

  p = {};
  p.tx = 3;
  p.ty = -2;
  augment_image(out.data(), px.data(), n, p, 0.0f, 1.0f);
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      const int sx = x - 3, sy = y + 2;
      const double expect = sx >= 0 && sy < n ? value(sx, sy) : 0.0;  // black where nothing maps
      EXPECT_NEAR(out[y * n + x], expect, 1e-5) << x << "," << y;
    }
}

TEST(DataAugment, MatchesAPlainBilinearReferenceForRandomParameters) {
  // The warp written out directly in double precision, for sizes and parameters
  // that exercise the vectorised interior, the scalar border and the black outside.
  cxr::Generator gen(21);
  AugmentOptions wide;
  wide.rotation_deg = 40;
  wide.translate = 0.3;
  wide.horizontal_flip = true;
  for (int size : {9, 31, 64}) {
    const auto px = cxr::test::pattern(size, size, 1, size);
    auto at = [&](int x, int y) -> double {
      return x >= 0 && y >= 0 && x < size && y < size ? px[y * size + x] : 0.0;
    };
    std::vector<float> out(size * size);
    for (int trial = 0; trial < 10; ++trial) {
      const auto p = sample_augment(wide, size, gen);
      augment_image(out.data(), px.data(), size, p, 0.0f, 1.0f);
      const double c = (size - 1) / 2.0, m = p.flip ? -1.0 : 1.0;
      for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x) {
          const double u = x - c - p.tx, v = y - c - p.ty;
          const double sx = c + m * (std::cos(p.angle) * u + std::sin(p.angle) * v) / p.scale;
          const double sy = c + (-std::sin(p.angle) * u + std::cos(p.angle) * v) / p.scale;
          const int x0 = static_cast<int>(std::floor(sx)), y0 = static_cast<int>(std::floor(sy));
          const double wx = sx - x0, wy = sy - y0;
          const double bil = (1 - wy) * ((1 - wx) * at(x0, y0) + wx * at(x0 + 1, y0)) +
                             wy * ((1 - wx) * at(x0, y0 + 1) + wx * at(x0 + 1, y0 + 1));
          const double expect = std::clamp((bil / 255 - 0.5) * p.contrast + 0.5 + p.brightness, 0.0, 1.0);
          // Float source coordinates are off by ~1e-5 px at size 64; a pixel step
          // of up to 255 levels then moves the value by ~1e-5, plus float rounding.
          ASSERT_NEAR(out[y * size + x], expect, 1e-4) << "size " << size << " at " << x << "," << y;
        }
    }
  }
}

TEST(DataAugment, BrightnessAndContrastAreClamped) {
  std::vector<std::uint8_t> px(kSize * kSize, 51);  // 0.2
  std::vector<float> out(kSize * kSize);
  AugmentParams p;
  p.contrast = 1.5;
  p.brightness = 0.1;
  augment_image(out.data(), px.data(), kSize, p, 0.0f, 1.0f);
  EXPECT_NEAR(out[kSize * 5 + 5], (0.2 - 0.5) * 1.5 + 0.5 + 0.1, 1e-6);
  p.brightness = -0.9;
  augment_image(out.data(), px.data(), kSize, p, 0.0f, 1.0f);
  EXPECT_EQ(out[kSize * 5 + 5], 0.0f);
}

TEST(DataAugment, SampledParametersStayInRange) {
  cxr::Generator gen(1);
  AugmentOptions o;
  double min_angle = 1, max_angle = -1;
  for (int i = 0; i < 2000; ++i) {
    const auto p = sample_augment(o, 224, gen);
    EXPECT_LE(std::abs(p.angle), 10 * 3.14159265358979323846 / 180);
    EXPECT_GE(p.scale, 0.9);
    EXPECT_LE(p.scale, 1.1);
    EXPECT_LE(std::abs(p.tx), 0.08 * 224);
    EXPECT_LE(std::abs(p.ty), 0.08 * 224);
    EXPECT_LE(std::abs(p.brightness), 0.1);
    EXPECT_NEAR(p.contrast, 1.0, 0.1);
    EXPECT_FALSE(p.flip);  // off by default
    min_angle = std::min(min_angle, p.angle), max_angle = std::max(max_angle, p.angle);
  }
  EXPECT_LT(min_angle, -0.15);  // the range is used, not just its middle
  EXPECT_GT(max_angle, 0.15);
  o.horizontal_flip = true;
  int flips = 0;
  for (int i = 0; i < 1000; ++i) flips += sample_augment(o, 224, gen).flip;
  EXPECT_NEAR(flips, 500, 80);  // binomial sd 15.8, 5 sigma
}
