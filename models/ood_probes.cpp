#include "models/ood_probes.h"

#include "engine/random.h"
#include "models/overlay.h"

#include <algorithm>
#include <cmath>

namespace cxr {

const std::vector<std::string>& ood_probe_kinds() {
  static const std::vector<std::string> kinds{"colour_noise", "grey_noise", "blank",  "strip",
                                              "gradient",     "xor",        "checker"};
  return kinds;
}

namespace {

std::uint8_t clamp_byte(double v) {
  return static_cast<std::uint8_t>(std::clamp(std::lround(v), 0l, 255l));
}

// A grey image: f(x, y) in [0, 255] for every pixel, written as RGB.
template <class F>
RgbImage grey(int width, int height, F f) {
  RgbImage im{width, height, std::vector<std::uint8_t>(std::size_t(width) * height * 3)};
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const std::uint8_t v = clamp_byte(f(x, y));
      std::fill_n(im.pixels.begin() + (std::size_t(y) * width + x) * 3, 3, v);
    }
  return im;
}

RgbImage make_probe(const std::string& kind, Generator& gen) {
  const int side = 64 + static_cast<int>(gen.below(449));  // 64..512
  const int width = side, height = std::max(64, side - static_cast<int>(gen.below(side / 2)));
  if (kind == "colour_noise") {
    RgbImage im{width, height, std::vector<std::uint8_t>(std::size_t(width) * height * 3)};
    for (auto& v : im.pixels) v = static_cast<std::uint8_t>(gen.below(256));
    return im;
  }
  if (kind == "grey_noise") return grey(width, height, [&](int, int) { return gen.uniform(0, 256); });
  if (kind == "blank") {
    const double level = static_cast<double>(gen.below(256));
    return grey(width, height, [&](int, int) { return level; });
  }
  if (kind == "strip") return grey(8192, 32, [&](int x, int) { return x / 32.0 + gen.uniform(-8, 8); });
  if (kind == "gradient") {
    const double angle = gen.uniform(0, 6.283185307179586);
    const double cx = std::cos(angle), cy = std::sin(angle), span = std::abs(cx) * width + std::abs(cy) * height;
    const double x0 = cx < 0 ? width : 0, y0 = cy < 0 ? height : 0;
    return grey(width, height, [&](int x, int y) { return 255.0 * ((x - x0) * cx + (y - y0) * cy) / span; });
  }
  if (kind == "xor") {
    const int period = 1 + static_cast<int>(gen.below(4));
    return grey(width, height, [&](int x, int y) { return ((x / period) ^ (y / period)) & 255; });
  }
  const int cell = 2 + static_cast<int>(gen.below(31));  // checker
  return grey(width, height, [&](int x, int y) { return ((x / cell + y / cell) % 2) * 255.0; });
}

}  // namespace

std::vector<ProbeImage> ood_probe_images(int per_kind, std::uint64_t seed) {
  Generator gen(seed);
  std::vector<ProbeImage> out;
  for (const auto& kind : ood_probe_kinds())
    for (int i = 0; i < per_kind; ++i) out.push_back({kind, encode_png(make_probe(kind, gen), {})});
  return out;
}

}  // namespace cxr
