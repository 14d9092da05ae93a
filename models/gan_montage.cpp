#include "models/gan_montage.h"

#include "base/check.h"
#include "models/gan_data.h"

namespace cxr {

data::GreyImage gan_image(const Tensor& images, std::int64_t i) {
  CXR_CHECK(images.dim() == 4 && images.size(1) == 1 && i >= 0 && i < images.size(0),
            "gan_image: image {} of a tensor {}", i, images.str());
  const int h = static_cast<int>(images.size(2)), w = static_cast<int>(images.size(3));
  data::GreyImage out{w, h, std::vector<std::uint8_t>(static_cast<std::size_t>(w) * h)};
  const Tensor contiguous = images.contiguous();
  const float* src = contiguous.data<float>() + i * w * h;
  for (std::size_t p = 0; p < out.pixels.size(); ++p) out.pixels[p] = gan_pixel_to_byte(src[p]);
  return out;
}

RgbImage tile_grid(const std::vector<data::GreyImage>& tiles, int columns, int scale, int gap) {
  CXR_CHECK(!tiles.empty() && columns >= 1 && scale >= 1 && gap >= 0, "tile_grid: {} tiles, {} columns, scale {}",
            tiles.size(), columns, scale);
  const int tw = tiles[0].width * scale, th = tiles[0].height * scale;
  const int rows = (static_cast<int>(tiles.size()) + columns - 1) / columns;
  RgbImage out;
  out.width = columns * tw + (columns + 1) * gap;
  out.height = rows * th + (rows + 1) * gap;
  out.pixels.assign(static_cast<std::size_t>(out.width) * out.height * 3, 128);
  for (std::size_t t = 0; t < tiles.size(); ++t) {
    const data::GreyImage& tile = tiles[t];
    CXR_CHECK(tile.width * scale == tw && tile.height * scale == th, "tile_grid: tiles differ in size");
    const int x0 = gap + static_cast<int>(t % columns) * (tw + gap);
    const int y0 = gap + static_cast<int>(t / columns) * (th + gap);
    for (int y = 0; y < th; ++y)
      for (int x = 0; x < tw; ++x) {
        const std::uint8_t v = tile.pixels[static_cast<std::size_t>(y / scale) * tile.width + x / scale];
        std::uint8_t* px = &out.pixels[(static_cast<std::size_t>(y0 + y) * out.width + x0 + x) * 3];
        px[0] = px[1] = px[2] = v;
      }
  }
  return out;
}

}  // namespace cxr
