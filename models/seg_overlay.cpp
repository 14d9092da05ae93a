#include "models/seg_overlay.h"

#include "base/check.h"

#include <array>
#include <cmath>

namespace cxr {

RgbImage render_seg_overlay(const data::GreyImage& image, const std::vector<std::uint8_t>& labels, bool binary,
                            double opacity) {
  const std::size_t n = static_cast<std::size_t>(image.width) * image.height;
  CXR_CHECK(labels.size() == n, "render_seg_overlay: {} labels for a {}x{} image", labels.size(), image.width,
            image.height);
  CXR_CHECK(opacity >= 0 && opacity <= 1, "render_seg_overlay: opacity {} is outside [0, 1]", opacity);
  constexpr std::array<std::uint8_t, 3> kRed{230, 30, 30}, kYellow{250, 220, 20};
  RgbImage out{image.width, image.height, std::vector<std::uint8_t>(3 * n)};
  for (std::size_t i = 0; i < n; ++i) {
    const double grey = image.pixels[i];
    const std::uint8_t label = labels[i];
    for (int k = 0; k < 3; ++k) {
      double v = grey;
      if (label != 0) {
        const auto& colour = (binary || label == 2) ? kRed : kYellow;
        v = (1 - opacity) * grey + opacity * colour[k];
      }
      out.pixels[3 * i + k] = static_cast<std::uint8_t>(std::lround(v));
    }
  }
  return out;
}

}  // namespace cxr
