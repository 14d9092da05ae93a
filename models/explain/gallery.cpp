#include "models/explain/gallery.h"

namespace cxr {

RgbImage explanation_gallery(const std::vector<data::GreyImage>& images, const std::vector<std::vector<Tensor>>& maps,
                             double opacity, int shrink) {
  CXR_CHECK(!images.empty() && images.size() == maps.size() && !maps[0].empty(),
            "explanation_gallery: {} images and {} rows of maps", images.size(), maps.size());
  const int S = images[0].width;
  CXR_CHECK(shrink >= 1 && S % shrink == 0, "explanation_gallery: shrink {} does not divide the side {}", shrink, S);
  const int tile = S / shrink, columns = static_cast<int>(maps[0].size()), rows = static_cast<int>(images.size());
  RgbImage sheet;
  sheet.width = columns * tile;
  sheet.height = rows * tile;
  sheet.pixels.assign(static_cast<std::size_t>(sheet.width) * sheet.height * 3, 0);
  for (int r = 0; r < rows; ++r) {
    CXR_CHECK(images[r].width == S && images[r].height == S && static_cast<int>(maps[r].size()) == columns,
              "explanation_gallery: row {} is not {} maps over a {}x{} image", r, columns, S, S);
    for (int c = 0; c < columns; ++c) {
      const RgbImage overlay = render_overlay(images[r], maps[r][c], opacity);
      for (int y = 0; y < tile; ++y)
        for (int x = 0; x < tile; ++x)
          for (int ch = 0; ch < 3; ++ch) {
            int sum = 0;
            for (int dy = 0; dy < shrink; ++dy)
              for (int dx = 0; dx < shrink; ++dx)
                sum += overlay.pixels[((y * shrink + dy) * S + x * shrink + dx) * 3 + ch];
            sheet.pixels[((r * tile + y) * sheet.width + c * tile + x) * 3 + ch] =
                static_cast<std::uint8_t>((sum + shrink * shrink / 2) / (shrink * shrink));
          }
    }
  }
  return sheet;
}

}  // namespace cxr
