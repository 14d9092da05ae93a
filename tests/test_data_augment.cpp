// The photometric augmentation stages (engine/data/augment.h): gamma, blur, noise,
// border bands and the JPEG re-encode, each against a small independent
// computation; identity parameters change nothing; the strong preset's ranges;
// determinism by seed, whatever the thread count. (The geometry and the default
// jitter: tests/test_data_loader.cpp; the GPU: tests/test_cuda_augment.cpp.)
#include "base/check.h"
#include "data/dataset.h"
#include "data/loader.h"
#include "data/manifest.h"
#include "data_fixtures.h"
#include "engine/data/augment.h"
#include "engine/data/cache_file.h"
#include "engine/data/device_batch.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <thread>

using namespace cxr::data;

namespace {

std::vector<std::uint8_t> constant_image(int size, std::uint8_t value) {
  return std::vector<std::uint8_t>(static_cast<std::size_t>(size) * size, value);
}

std::vector<std::uint8_t> random_image(int size, std::uint64_t seed) {
  cxr::Generator gen(seed);
  std::vector<std::uint8_t> px(static_cast<std::size_t>(size) * size);
  for (auto& p : px) p = static_cast<std::uint8_t>(gen.below(256));
  return px;
}

std::vector<float> augmented(const std::vector<std::uint8_t>& px, int size, const AugmentParams& p, float mean = 0.0f,
                             float stddev = 1.0f) {
  std::vector<float> out(px.size());
  augment_image(out.data(), px.data(), size, p, mean, stddev);
  return out;
}

// Options with every stage on, wider than the preset so that small images blur too.
AugmentOptions everything_on() {
  AugmentOptions o = strong_augment();
  o.blur_p = o.border_p = o.jpeg_p = 1.0;
  o.blur_sigma_max = 0.05;
  return o;
}

}  // namespace

TEST(AugmentPhotometric, DefaultOptionsDrawTheIdentityAndKeepTheOtherDraws) {
  // The photometric draws come after the others: a seed gives the same geometry
  // with or without them.
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    cxr::Generator a(seed), b(seed);
    const AugmentParams plain = sample_augment(AugmentOptions{}, 224, a);
    const AugmentParams strong = sample_augment(everything_on(), 224, b);
    EXPECT_EQ(plain.gamma, 1.0);
    EXPECT_EQ(plain.blur_sigma, 0.0);
    EXPECT_EQ(plain.noise_std, 0.0);
    EXPECT_EQ(plain.border_left + plain.border_right + plain.border_top + plain.border_bottom, 0);
    EXPECT_EQ(plain.jpeg_quality, 0);
    EXPECT_EQ(strong.angle, plain.angle);
    EXPECT_EQ(strong.scale, plain.scale);
    EXPECT_EQ(strong.tx, plain.tx);
    EXPECT_EQ(strong.ty, plain.ty);
    EXPECT_EQ(strong.flip, plain.flip);
  }
}

TEST(AugmentPhotometric, EachStageAtItsIdentityChangesNothing) {
  const int size = 37;
  const auto px = random_image(size, 1);
  cxr::Generator gen(2);
  AugmentOptions wide;
  wide.rotation_deg = 30;
  for (int trial = 0; trial < 5; ++trial) {
    const AugmentParams base = sample_augment(wide, size, gen);
    const auto expect = augmented(px, size, base, 0.45f, 0.23f);
    AugmentParams p = base;
    p.noise_key = gen.next_u64();  // a key without noise
    p.gamma = 1.0;
    p.blur_sigma = 0.0;
    p.noise_std = 0.0;
    p.border_left = p.border_right = p.border_top = p.border_bottom = 0;
    p.jpeg_quality = 0;
    EXPECT_EQ(augmented(px, size, p, 0.45f, 0.23f), expect);
    // And inside the photometric path: a stage at its identity leaves the others' output.
    AugmentParams g = base;
    g.gamma = 1.3;
    const auto with_gamma = augmented(px, size, g, 0.45f, 0.23f);
    g.noise_key = gen.next_u64();
    EXPECT_EQ(augmented(px, size, g, 0.45f, 0.23f), with_gamma);
  }
}

TEST(AugmentPhotometric, GammaIsAPowerOfTheIntensityBeforeTheJitter) {
  const int size = 6;
  std::vector<std::uint8_t> px;
  for (int y = 0; y < size; ++y)
    for (std::uint8_t v : {0, 51, 102, 128, 200, 255}) px.push_back(v);
  for (double gamma : {0.5, 1 / 1.5, 1.5, 2.0}) {
    AugmentParams p;
    p.gamma = gamma;
    p.contrast = 1.2;
    p.brightness = -0.05;
    const auto out = augmented(px, size, p);
    for (std::size_t i = 0; i < px.size(); ++i) {
      const double v = std::pow(px[i] / 255.0, gamma);
      const double expect = std::clamp((v - 0.5) * 1.2 + 0.5 - 0.05, 0.0, 1.0);
      EXPECT_NEAR(out[i], expect, 1e-6) << "gamma " << gamma << " value " << int{px[i]};  // float powf: a few ulps
    }
  }
}

TEST(AugmentPhotometric, BlurOfAnImpulseIsTheNormalisedGaussian) {
  const int size = 21, centre = 10;
  auto px = constant_image(size, 0);
  px[centre * size + centre] = 255;
  for (double sigma : {0.4, 1.3, 2.0}) {
    AugmentParams p;
    p.blur_sigma = sigma;
    const auto out = augmented(px, size, p);
    const int r = static_cast<int>(std::ceil(3 * sigma));
    double sum = 0;
    for (int k = -r; k <= r; ++k) sum += std::exp(-k * k / (2 * sigma * sigma));
    auto g = [&](int d) {
      return std::abs(d) > r ? 0.0 : std::exp(-d * d / (2 * sigma * sigma)) / sum;
    };
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x)  // float taps and sums: a few ulps of 1
        ASSERT_NEAR(out[y * size + x], g(y - centre) * g(x - centre), 1e-6)
            << "sigma " << sigma << " at " << x << "," << y;
  }
}

TEST(AugmentPhotometric, BlurIsAClampToEdgeConvolution) {
  // A direct 2D sum in double with the edge pixels repeated outward, on a random
  // image whose edges the kernel overhangs.
  const int size = 13;
  const auto px = random_image(size, 3);
  const double sigma = 1.7;
  AugmentParams p;
  p.blur_sigma = sigma;
  const auto out = augmented(px, size, p);
  const int r = static_cast<int>(std::ceil(3 * sigma));
  double sum = 0;
  for (int k = -r; k <= r; ++k) sum += std::exp(-k * k / (2 * sigma * sigma));
  auto at = [&](int x, int y) {
    return px[std::clamp(y, 0, size - 1) * size + std::clamp(x, 0, size - 1)] / 255.0;
  };
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      double expect = 0;
      for (int i = -r; i <= r; ++i)
        for (int j = -r; j <= r; ++j)
          expect += std::exp(-(i * i + j * j) / (2 * sigma * sigma)) / (sum * sum) * at(x + j, y + i);
      EXPECT_NEAR(out[y * size + x], expect, 2e-6) << x << "," << y;  // 2 x 13 float adds below 1: < 1.6e-6
    }
  // A constant image stays constant up to its corners (zero padding would darken them).
  const auto flat = augmented(constant_image(size, 200), size, p);
  for (float v : flat) EXPECT_NEAR(v, 200 / 255.0, 1e-6);
}

TEST(AugmentPhotometric, NoiseHasTheRequestedStandardDeviation) {
  const int size = 128;
  const std::int64_t n = size * size;
  const auto px = constant_image(size, 128);
  AugmentParams p;
  p.noise_std = 0.05;
  p.noise_key = 77;
  const auto out = augmented(px, size, p);
  std::vector<double> z(n);
  for (std::int64_t i = 0; i < n; ++i) z[i] = (out[i] - 128 / 255.0) / 0.05;  // never clamped: 0.5 +- 6.7 x 0.05
  double mean = 0, var = 0, within = 0, lag = 0;
  for (double v : z) mean += v / n;
  for (std::int64_t i = 0; i < n; ++i) {
    var += (z[i] - mean) * (z[i] - mean) / (n - 1);
    within += std::abs(z[i]) < 1.0;
    if (i + 1 < n) lag += z[i] * z[i + 1] / (n - 1);  // neighbours share a Box-Muller pair when i is even
  }
  // Bounds at 5 standard errors for n = 16384: mean 1/sqrt(n); standard deviation
  // sqrt(1/(2n)); P(|z| < 1) = 0.6827, binomial sqrt(p (1-p) / n); the neighbour
  // correlation 1/sqrt(n).
  EXPECT_NEAR(mean, 0.0, 5 / std::sqrt(double(n)));
  EXPECT_NEAR(std::sqrt(var), 1.0, 5 / std::sqrt(2.0 * n));
  EXPECT_NEAR(within / n, 0.6827, 5 * std::sqrt(0.6827 * 0.3173 / n));
  EXPECT_NEAR(lag, 0.0, 5 / std::sqrt(double(n)));
  // The key chooses the noise: the same key, the same noise; another key, other noise.
  EXPECT_EQ(augmented(px, size, p), out);
  p.noise_key = 78;
  EXPECT_NE(augmented(px, size, p), out);
}

TEST(AugmentPhotometric, BorderBandsAreExactlyBlack) {
  const int size = 16;
  const auto px = constant_image(size, 200);
  AugmentParams p;
  p.border_left = 2, p.border_right = 3, p.border_top = 1, p.border_bottom = 4;
  const float mean = 0.3f, stddev = 0.2f;
  const auto out = augmented(px, size, p, mean, stddev);
  float black;
  const std::uint8_t zero = 0;
  normalize_image(&black, &zero, 1, mean, stddev);
  int bands = 0;
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      const bool band = x < 2 || x >= size - 3 || y < 1 || y >= size - 4;
      bands += band;
      if (band) {
        EXPECT_EQ(out[y * size + x], black) << x << "," << y;
      } else {
        EXPECT_NEAR(out[y * size + x], (200 / 255.0 - mean) / stddev, 1e-5) << x << "," << y;
      }
    }
  EXPECT_EQ(bands, size * size - (size - 5) * (size - 5));
}

TEST(AugmentPhotometric, JpegRoundTripIsCloseAtHighQualityAndComesFirst) {
  const int size = 64;
  std::vector<std::uint8_t> px(size * size);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)  // a smooth film-like picture
      px[y * size + x] = static_cast<std::uint8_t>(128 + 80 * std::sin(x / 5.0) * std::cos(y / 7.0));
  auto error = [&](int quality) {
    const auto back = jpeg_round_trip(px.data(), size, quality);
    double mean = 0;
    int worst = 0;
    for (int i = 0; i < size * size; ++i) {
      const int d = std::abs(int{back[i]} - int{px[i]});
      mean += d / double(size * size);
      worst = std::max(worst, d);
    }
    return std::pair{mean, worst};
  };
  const auto [mean95, worst95] = error(95);
  EXPECT_LT(mean95, 0.75);  // Debian's stb at quality 95: 0.36 levels on average, 2 at most
  EXPECT_LE(worst95, 4);
  EXPECT_GT(error(30).first, mean95);  // lower quality, more loss
  // augment_image re-encodes the bytes before everything else.
  AugmentParams p;
  p.angle = 0.2;
  p.gamma = 1.2;
  p.jpeg_quality = 50;
  const auto recoded = jpeg_round_trip(px.data(), size, 50);
  AugmentParams rest = p;
  rest.jpeg_quality = 0;
  EXPECT_EQ(augmented(px, size, p), augmented(recoded, size, rest));
}

TEST(AugmentPhotometric, StrongPresetRanges) {
  const AugmentOptions o = strong_augment();
  cxr::Generator gen(4);
  const int draws = 2000;
  int blurred = 0, bordered = 0, recoded = 0;
  double min_gamma = 2, max_gamma = 0;
  for (int i = 0; i < draws; ++i) {
    const AugmentParams p = sample_augment(o, 224, gen);
    EXPECT_GE(p.gamma, 1 / 1.5 - 1e-12);
    EXPECT_LE(p.gamma, 1.5 + 1e-12);
    min_gamma = std::min(min_gamma, p.gamma), max_gamma = std::max(max_gamma, p.gamma);
    EXPECT_LE(p.blur_sigma, 1.5 + 1e-12);  // pixels at 224
    EXPECT_LE(p.noise_std, 0.03);
    EXPECT_LE(std::abs(p.brightness), 0.2);
    EXPECT_NEAR(p.contrast, 1.0, 0.2);
    for (int side : {p.border_left, p.border_right, p.border_top, p.border_bottom}) {
      EXPECT_GE(side, 0);
      EXPECT_LE(side, 17);  // floor(0.08 x 224)
    }
    if (p.jpeg_quality > 0) {
      EXPECT_GE(p.jpeg_quality, 30);
      EXPECT_LE(p.jpeg_quality, 95);
    }
    blurred += p.blur_sigma > 0;
    bordered += p.border_left + p.border_right + p.border_top + p.border_bottom > 0;
    recoded += p.jpeg_quality > 0;
  }
  EXPECT_LT(min_gamma, 0.7);  // both ends of the range are used
  EXPECT_GT(max_gamma, 1.4);
  // Probability 0.3 of 2000: binomial sd 20.5, 5 sigma ~ 103. (A border may draw
  // four zero widths, with probability (1/17.92)^4: negligible.)
  EXPECT_NEAR(blurred, 600, 103);
  EXPECT_NEAR(bordered, 600, 103);
  EXPECT_NEAR(recoded, 600, 103);
  // The blur scales with the image: 1.5 px at 224 is 0.75 px at 112.
  for (int i = 0; i < 200; ++i) EXPECT_LE(sample_augment(o, 112, gen).blur_sigma, 0.75 + 1e-12);
  AugmentOptions bad = o;
  bad.gamma = 0.5;
  EXPECT_THROW(sample_augment(bad, 224, gen), cxr::Error);
  bad = o;
  bad.jpeg_quality_min = 96;
  EXPECT_THROW(sample_augment(bad, 224, gen), cxr::Error);
}

TEST(AugmentPhotometric, SameSeedSameImagesWhateverTheThreads) {
  const int size = 41, count = 8;
  std::vector<std::vector<std::uint8_t>> images;
  std::vector<const std::uint8_t*> pointers;
  std::vector<AugmentParams> params;
  cxr::Generator gen(5);
  for (int i = 0; i < count; ++i) {
    images.push_back(random_image(size, 10 + i));
    params.push_back(sample_augment(everything_on(), size, gen));
  }
  for (const auto& im : images) pointers.push_back(im.data());
  const cxr::Tensor serial = make_image_batch(pointers, size, params, 0.45f, 0.23f, cxr::Device::cpu());
  // The same images, one thread each (the JPEG coder and the noise share no state).
  std::vector<std::vector<float>> threaded(count, std::vector<float>(size * size));
  std::vector<std::thread> threads;
  for (int i = 0; i < count; ++i)
    threads.emplace_back([&, i] { augment_image(threaded[i].data(), pointers[i], size, params[i], 0.45f, 0.23f); });
  for (auto& t : threads) t.join();
  for (int i = 0; i < count; ++i)
    for (int k = 0; k < size * size; ++k) ASSERT_EQ(serial.at(i * size * size + k), threaded[i][k]) << i << " " << k;
  // Drawn again from the same seed: the same parameters, hence the same batch.
  cxr::Generator again(5);
  std::vector<AugmentParams> redrawn;
  for (int i = 0; i < count; ++i) redrawn.push_back(sample_augment(everything_on(), size, again));
  EXPECT_EQ(make_image_batch(pointers, size, redrawn, 0.45f, 0.23f, cxr::Device::cpu()).to_vector(),
            serial.to_vector());
}

TEST(AugmentPhotometric, LoaderWithTheStrongPresetIsTheSameForAnyWorkerCount) {
  cxr::test::TempDir dir;
  const int n = 24, size = 40;
  CacheWriter cache(dir / "cache.bin", {static_cast<std::uint64_t>(n), size, 4, 0.45f, 0.23f});
  std::vector<ManifestRow> rows(n);
  for (int i = 0; i < n; ++i) {
    cache.write(random_image(size, 100 + i).data());
    rows[i].id = i;
    rows[i].source = Source::kermany;
    rows[i].source_path = fmt::format("train/x{}.png", i);
    rows[i].patient = fmt::format("kermany:p{}", i);
    rows[i].label = i % 4;
    rows[i].view = "AP";
    rows[i].sha256 = std::string(64, '0');
  }
  cache.close();
  write_manifest(dir / "manifest.csv", rows, 4);
  const Dataset ds = Dataset::open(dir.path());
  std::vector<std::int64_t> all(n);
  for (int i = 0; i < n; ++i) all[i] = i;
  LoaderOptions opt;
  opt.batch_size = 5;
  opt.seed = 3;
  opt.augment = everything_on();
  auto images = [&](int workers, std::uint64_t seed) {
    opt.workers = workers;
    opt.seed = seed;
    Loader loader(ds, all, opt);
    loader.start_epoch(1);
    std::vector<double> out;
    while (auto b = loader.next()) {
      const auto v = b->images.to_vector();
      out.insert(out.end(), v.begin(), v.end());
    }
    return out;
  };
  const auto inline_images = images(0, 3);
  EXPECT_EQ(images(3, 3), inline_images);
  EXPECT_NE(images(3, 4), inline_images);
}
