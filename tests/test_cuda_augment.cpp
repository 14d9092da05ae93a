// Batches built by make_image_batch: on the CPU they are augment_image /
// normalize_image per image; on the GPU they agree with the CPU batch.
//
// Tolerance of the augmented GPU batch: the same formulas, but the CPU's AVX2 loop
// and the compilers fuse different products into FMAs: a few ulps of the 0..255
// intensity (~1e-4), times gain (1/255 at contrast 1) and 1/stddev (< 10 here), so
// 1e-5 absolute. Normalisation alone is one multiply and one add per pixel, fused or
// not: 1e-6 (an ulp of values up to ~3).
//
// With the photometric stages (the JPEG re-encode is the same host code on both
// paths): the warp's ~1e-4 / 255 = 4e-7 of [0, 1] intensity passes through the blur
// unchanged (a convex combination) plus its float sums, 2 x 13 roundings of values
// below 1 at most (radius <= 6 here: 1.6e-6); the noise adds 0.03 x a few ulps of
// |z| < 7 (glibc's and CUDA's logf, cosf, sinf); contrast <= 1.2 and 1/stddev = 4.3
// scale the sum by 5.2: 2e-5 without gamma. Gamma g >= 1 multiplies an error by at
// most g = 1.5, but for g < 1 the power is only Hölder near black,
// |a^g - b^g| <= |a - b|^g: (2e-6)^(1/1.5) = 1.6e-4, times 5.2 is 8e-4, so 1e-3 with
// every stage on. A misplaced stage, a wrong noise index or a wrong band costs far
// more (0.03 x 4.3 = 0.13 for one noise value).
#include "cuda_testing.h"

#include "engine/data/augment.h"
#include "engine/data/device_batch.h"

using namespace cxr;
using cxr::testing::expect_close;

namespace {

struct Images {
  int size;
  std::vector<std::vector<std::uint8_t>> pixels;
  std::vector<const std::uint8_t*> pointers;
  std::vector<data::AugmentParams> params;

  // Image i's parameters from options[i % options.size()].
  Images(int count, int size_, std::uint64_t seed, const std::vector<data::AugmentOptions>& options = {geometry()})
      : size(size_) {
    Generator gen(seed);
    for (int i = 0; i < count; ++i) {
      pixels.emplace_back(static_cast<std::size_t>(size) * size);
      for (auto& p : pixels.back()) p = static_cast<std::uint8_t>(gen.below(256));
      params.push_back(data::sample_augment(options[i % options.size()], size, gen));
    }
    for (const auto& p : pixels) pointers.push_back(p.data());
  }

  static data::AugmentOptions geometry() {
    data::AugmentOptions options;
    options.rotation_deg = 25;
    options.horizontal_flip = true;  // some images mirrored
    return options;
  }

  // Every photometric stage on, the blur wide enough to reach past small images' edges.
  static data::AugmentOptions everything(double gamma = 1.5) {
    data::AugmentOptions options = data::strong_augment();
    options.rotation_deg = 25;
    options.gamma = gamma;
    options.blur_p = options.border_p = options.jpeg_p = 1.0;
    options.blur_sigma_max = 0.03;  // radius <= 6 at 64 px
    return options;
  }
};

constexpr float kMean = 0.45f, kStd = 0.23f;

TEST(ImageBatch, CpuBatchIsThePerImageAugmentation) {
  const Images images(3, 19, 1, {Images::geometry(), Images::everything()});
  const Tensor batch = data::make_image_batch(images.pointers, images.size, images.params, kMean, kStd, Device::cpu());
  ASSERT_EQ(batch.shape(), (Shape{3, 1, 19, 19}));
  const Tensor plain = data::make_image_batch(images.pointers, images.size, {}, kMean, kStd, Device::cpu());
  std::vector<float> one(19 * 19);
  for (int i = 0; i < 3; ++i) {
    data::augment_image(one.data(), images.pointers[i], 19, images.params[i], kMean, kStd);
    for (int p = 0; p < 19 * 19; ++p) ASSERT_EQ(batch.at(i * 19 * 19 + p), one[p]) << "image " << i << " pixel " << p;
    data::normalize_image(one.data(), images.pointers[i], 19 * 19, kMean, kStd);
    for (int p = 0; p < 19 * 19; ++p) ASSERT_EQ(plain.at(i * 19 * 19 + p), one[p]) << "image " << i << " pixel " << p;
  }
}

TEST(ImageBatch, RejectsMismatchedParameters) {
  const Images images(2, 5, 2);
  EXPECT_THROW(data::make_image_batch(images.pointers, 5, {images.params[0]}, kMean, kStd, Device::cpu()), Error);
}

TEST(ImageBatch, GpuAugmentationAgreesWithTheCpu) {
  CXR_REQUIRE_GPU();
  for (auto [count, size] : std::vector<std::pair<int, int>>{{1, 1}, {4, 37}, {2, 64}, {5, 8}}) {
    SCOPED_TRACE(std::to_string(count) + " images of " + std::to_string(size));
    const Images images(count, size, 3 + size);
    const Tensor cpu = data::make_image_batch(images.pointers, size, images.params, kMean, kStd, Device::cpu());
    const Tensor gpu = data::make_image_batch(images.pointers, size, images.params, kMean, kStd, Device::cuda());
    EXPECT_TRUE(gpu.device().is_cuda());
    expect_close(gpu, cpu, 1e-5, 0);
    const Tensor cpu_plain = data::make_image_batch(images.pointers, size, {}, kMean, kStd, Device::cpu());
    const Tensor gpu_plain = data::make_image_batch(images.pointers, size, {}, kMean, kStd, Device::cuda());
    expect_close(gpu_plain, cpu_plain, 1e-6, 0);
  }
}

TEST(ImageBatch, GpuPhotometricStagesAgreeWithTheCpu) {
  CXR_REQUIRE_GPU();
  for (auto [count, size] : std::vector<std::pair<int, int>>{{1, 1}, {3, 37}, {4, 23}, {2, 9}, {2, 64}}) {
    SCOPED_TRACE(std::to_string(count) + " images of " + std::to_string(size));
    auto compare = [&](const Images& images, double atol) {
      const Tensor cpu = data::make_image_batch(images.pointers, size, images.params, kMean, kStd, Device::cpu());
      const Tensor gpu = data::make_image_batch(images.pointers, size, images.params, kMean, kStd, Device::cuda());
      expect_close(gpu, cpu, atol, 0);
    };
    compare(Images(count, size, 5 + size, {Images::everything(1.0)}), 2e-5);  // all but gamma
    compare(Images(count, size, 6 + size, {Images::everything()}), 1e-3);
    // Default and photometric images in one batch: each takes its own path.
    compare(Images(count + 1, size, 7 + size, {Images::geometry(), Images::everything()}), 1e-3);
  }
}

}  // namespace
