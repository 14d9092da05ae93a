#include "models/explain/road.h"

#include "models/heatmap_eval.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace cxr {

namespace {

constexpr int kDy[8] = {-1, 1, 0, 0, -1, -1, 1, 1};
constexpr int kDx[8] = {0, 0, -1, 1, -1, 1, -1, 1};
constexpr double kWeight[8] = {1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 12, 1.0 / 12, 1.0 / 12, 1.0 / 12};

// Blur of one [H, W] plane with the kernel of heatmap_eval's gaussian_blur.
std::vector<double> blurred(const std::vector<double>& plane, std::int64_t H, std::int64_t W, double sigma) {
  const Tensor t = gaussian_blur(Tensor::from_vector(plane, {1, 1, H, W}, DType::F64), sigma);
  return t.to_vector();
}

}  // namespace

Tensor noisy_linear_imputation(const Tensor& image, const std::vector<std::uint8_t>& removed, double noise,
                               Generator& gen, double tolerance, int max_sweeps) {
  check_dim("noisy_linear_imputation", "image", image, 4);
  const std::int64_t in = image.size(1), H = image.size(2), W = image.size(3);
  CXR_CHECK(image.size(0) == 1 && static_cast<std::int64_t>(removed.size()) == H * W,
            "noisy_linear_imputation: one image and a mask of {} pixels, got {} images and {} mask entries", H * W,
            image.size(0), removed.size());
  std::vector<double> x = image.to(Device::cpu()).to_vector();
  std::vector<double> kept(static_cast<std::size_t>(H * W));
  for (std::int64_t j = 0; j < H * W; ++j) kept[j] = removed[j] ? 0.0 : 1.0;
  const std::vector<double> kept_blur = blurred(kept, H, W, 4.0);
  // The removed pixels in raster order: the sweeps visit only them, in the same order.
  std::vector<std::pair<std::int64_t, std::int64_t>> holes;
  for (std::int64_t y = 0; y < H; ++y)
    for (std::int64_t xx = 0; xx < W; ++xx)
      if (removed[y * W + xx]) holes.emplace_back(y, xx);
  for (std::int64_t c = 0; c < in; ++c) {
    double* v = x.data() + c * H * W;
    std::vector<double> known(v, v + H * W);
    for (std::int64_t j = 0; j < H * W; ++j) known[j] *= kept[j];
    const std::vector<double> start = blurred(known, H, W, 4.0);
    for (std::int64_t j = 0; j < H * W; ++j)
      if (removed[j]) v[j] = kept_blur[j] > 1e-6 ? start[j] / kept_blur[j] : 0.0;
    for (int sweep = 0; sweep < max_sweeps; ++sweep) {
      double moved = 0;
      for (const auto& [y, xx] : holes) {
        double sum = 0, weight = 0;
        for (int n = 0; n < 8; ++n) {
          const std::int64_t ny = y + kDy[n], nx = xx + kDx[n];
          if (ny < 0 || ny >= H || nx < 0 || nx >= W) continue;
          sum += kWeight[n] * v[ny * W + nx];
          weight += kWeight[n];
        }
        const double next = v[y * W + xx] + 1.8 * (sum / weight - v[y * W + xx]);
        moved = std::max(moved, std::abs(next - v[y * W + xx]));
        v[y * W + xx] = next;
      }
      if (moved < tolerance) break;
    }
    for (std::int64_t j = 0; j < H * W; ++j)
      if (removed[j]) v[j] += noise * gen.normal();
  }
  return Tensor::from_vector(x, image.shape(), image.dtype());
}

RoadResult road(const ScoreFn& score, const Tensor& image, const std::vector<std::int64_t>& order,
                const RoadSettings& settings, Generator& gen) {
  const std::int64_t H = image.size(2), W = image.size(3), n = H * W;
  CXR_CHECK(static_cast<std::int64_t>(order.size()) == n, "road: an order of {} pixels for a {}x{} image", order.size(),
            H, W);
  CXR_CHECK(!settings.fractions.empty(), "road: no fractions");
  const std::int64_t f = static_cast<std::int64_t>(settings.fractions.size());
  std::vector<double> pixels;
  for (int most_first = 1; most_first >= 0; --most_first)
    for (double q : settings.fractions) {
      CXR_CHECK(q >= 0 && q <= 1, "road: fraction {} outside [0, 1]", q);
      std::vector<std::uint8_t> removed(static_cast<std::size_t>(n), 0);
      const auto count = static_cast<std::int64_t>(std::llround(q * static_cast<double>(n)));
      for (std::int64_t k = 0; k < count; ++k) removed[order[most_first ? k : n - 1 - k]] = 1;
      const std::vector<double> imputed =
          noisy_linear_imputation(image, removed, settings.noise, gen, settings.tolerance, settings.max_sweeps)
              .to_vector();
      pixels.insert(pixels.end(), imputed.begin(), imputed.end());
    }
  const Tensor batch = Tensor::from_vector(pixels, {2 * f, image.size(1), H, W}, image.dtype());
  const std::vector<double> p = score(batch);
  RoadResult r;
  r.morf.assign(p.begin(), p.begin() + f);
  r.lerf.assign(p.begin() + f, p.end());
  for (std::int64_t k = 0; k < f; ++k) {
    r.morf_area += r.morf[k] / static_cast<double>(f);
    r.lerf_area += r.lerf[k] / static_cast<double>(f);
  }
  return r;
}

}  // namespace cxr
