#include "engine/data/exif_orientation.h"

#include <algorithm>
#include <cstddef>
#include <utility>

namespace cxr::data {

namespace {

constexpr std::uint16_t kOrientationTag = 0x0112;

// The TIFF structure inside the Exif segment: a byte-order mark ("II" little-,
// "MM" big-endian), 42, the offset of the first IFD, then 12-byte entries.
class TiffReader {
 public:
  explicit TiffReader(std::span<const std::uint8_t> tiff) : tiff_(tiff) {}

  bool fits(std::size_t offset, std::size_t n) const { return offset <= tiff_.size() && n <= tiff_.size() - offset; }
  std::uint16_t u16(std::size_t at) const {
    return little_ ? tiff_[at] | tiff_[at + 1] << 8 : tiff_[at] << 8 | tiff_[at + 1];
  }
  std::uint32_t u32(std::size_t at) const {
    return little_ ? u16(at) | std::uint32_t{u16(at + 2)} << 16 : std::uint32_t{u16(at)} << 16 | u16(at + 2);
  }

  int orientation() {
    if (!fits(0, 8)) return 1;
    if (tiff_[0] == 'I' && tiff_[1] == 'I')
      little_ = true;
    else if (!(tiff_[0] == 'M' && tiff_[1] == 'M'))
      return 1;
    if (u16(2) != 42) return 1;
    const std::size_t ifd = u32(4);
    if (!fits(ifd, 2)) return 1;
    const std::size_t entries = u16(ifd);
    for (std::size_t i = 0; i < entries; ++i) {
      const std::size_t entry = ifd + 2 + 12 * i;
      if (!fits(entry, 12)) return 1;
      if (u16(entry) != kOrientationTag) continue;
      const int value = u16(entry + 8);  // a SHORT, left-aligned in the value field
      return value >= 1 && value <= 8 ? value : 1;
    }
    return 1;
  }

 private:
  std::span<const std::uint8_t> tiff_;
  bool little_ = false;
};

}  // namespace

int jpeg_exif_orientation(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8) return 1;
  // Marker segments up to the start of scan: FF, marker, 2-byte big-endian length
  // (counting itself), payload.
  std::size_t pos = 2;
  while (pos + 4 <= bytes.size() && bytes[pos] == 0xFF) {
    const std::uint8_t marker = bytes[pos + 1];
    if (marker == 0xFF) {  // fill byte
      ++pos;
      continue;
    }
    if (marker == 0xDA || marker == 0xD9) return 1;  // start of scan, end of image
    const std::size_t length = bytes[pos + 2] << 8 | bytes[pos + 3];
    if (length < 2 || length > bytes.size() - pos - 2) return 1;
    const auto payload = bytes.subspan(pos + 4, length - 2);
    static constexpr std::uint8_t kExif[] = {'E', 'x', 'i', 'f', 0, 0};
    if (marker == 0xE1 && payload.size() >= sizeof kExif && std::equal(kExif, kExif + sizeof kExif, payload.begin()))
      return TiffReader(payload.subspan(sizeof kExif)).orientation();
    pos += 2 + length;
  }
  return 1;
}

void apply_exif_orientation(GreyImage& image, int orientation) {
  if (orientation < 2 || orientation > 8) return;
  const int w = image.width, h = image.height;
  const bool swaps = orientation >= 5;
  GreyImage out;
  out.width = swaps ? h : w;
  out.height = swaps ? w : h;
  out.pixels.resize(image.pixels.size());
  // For each displayed pixel (x, y), the stored pixel it shows.
  auto source = [&](int x, int y) -> std::pair<int, int> {
    switch (orientation) {
      case 2: return {w - 1 - x, y};
      case 3: return {w - 1 - x, h - 1 - y};
      case 4: return {x, h - 1 - y};
      case 5: return {y, x};
      case 6: return {y, h - 1 - x};
      case 7: return {w - 1 - y, h - 1 - x};
      default: return {w - 1 - y, x};  // 8
    }
  };
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x) {
      const auto [sx, sy] = source(x, y);
      out.pixels[static_cast<std::size_t>(y) * out.width + x] = image.pixels[static_cast<std::size_t>(sy) * w + sx];
    }
  image = std::move(out);
}

}  // namespace cxr::data
