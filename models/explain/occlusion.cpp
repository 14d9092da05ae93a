#include "models/explain/occlusion.h"

#include <algorithm>

namespace cxr {

std::vector<std::int64_t> occlusion_offsets(std::int64_t length, std::int64_t patch, std::int64_t stride) {
  CXR_CHECK(patch >= 1 && stride >= 1, "occlusion: patch {} and stride {} (expected at least 1)", patch, stride);
  patch = std::min(patch, length);
  std::vector<std::int64_t> offsets;
  for (std::int64_t o = 0; o + patch <= length; o += stride) offsets.push_back(o);
  if (offsets.back() + patch < length) offsets.push_back(length - patch);
  return offsets;
}

Explanation occlusion(ClassifierNet& net, const Tensor& image, int target, const ExplainSettings& settings) {
  const ScoredImage scored = predict_one(net, image, target);
  const std::int64_t in = image.size(1), H = image.size(2), W = image.size(3);
  const std::int64_t ph = std::min<std::int64_t>(settings.occlusion_patch, H);
  const std::int64_t pw = std::min<std::int64_t>(settings.occlusion_patch, W);
  const auto ys = occlusion_offsets(H, settings.occlusion_patch, settings.occlusion_stride);
  const auto xs = occlusion_offsets(W, settings.occlusion_patch, settings.occlusion_stride);
  const std::vector<double> x = image.to(Device::cpu()).to_vector();
  const std::int64_t patches = static_cast<std::int64_t>(ys.size() * xs.size());
  const std::vector<double> scores =
      batched_scores(net, image, patches, scored.target, settings.batch, [&](std::int64_t p, double* out) {
        std::copy(x.begin(), x.end(), out);
        const std::int64_t y0 = ys[p / xs.size()], x0 = xs[p % xs.size()];
        for (std::int64_t c = 0; c < in; ++c)
          for (std::int64_t y = y0; y < y0 + ph; ++y) std::fill_n(out + c * H * W + y * W + x0, pw, 0.0);
      });
  const double full = scored.logits[scored.target];
  std::vector<double> sum(static_cast<std::size_t>(H * W), 0.0), count(sum.size(), 0.0);
  for (std::int64_t p = 0; p < patches; ++p) {
    const std::int64_t y0 = ys[p / xs.size()], x0 = xs[p % xs.size()];
    for (std::int64_t y = y0; y < y0 + ph; ++y)
      for (std::int64_t xx = x0; xx < x0 + pw; ++xx) {
        sum[y * W + xx] += full - scores[p];
        count[y * W + xx] += 1;
      }
  }
  for (std::size_t j = 0; j < sum.size(); ++j) sum[j] /= count[j];
  Explanation e;
  e.method = "occlusion";
  e.target_class = scored.target;
  e.probabilities = scored.probabilities;
  e.map = rectified_map(std::move(sum), H, W);
  e.grid = pooled_grid(e.map, std::max<std::int64_t>(1, H / 16));
  e.facts.emplace_back("occluded_images", static_cast<double>(patches));
  return e;
}

}  // namespace cxr
