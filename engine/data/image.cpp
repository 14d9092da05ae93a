#include "engine/data/image.h"

#include "base/check.h"
#include "engine/data/exif_orientation.h"
#include "engine/data/jpeg_tables.h"

#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <utility>

namespace cxr::data {

namespace {

struct StbFree {
  void operator()(void* p) const { stbi_image_free(p); }
};

// Width and height from a PNG IHDR or a JPEG SOF marker, read without decoding.
// stb_image's own guard cannot tell us why it refused an oversized header (it tries
// every format and reports the last one's complaint), so the limits are checked on
// these first.
std::optional<std::pair<std::int64_t, std::int64_t>> header_dimensions(std::span<const std::uint8_t> b) {
  auto be16 = [&](std::size_t i) {
    return std::int64_t{b[i]} << 8 | b[i + 1];
  };
  auto be32 = [&](std::size_t i) {
    return be16(i) << 16 | be16(i + 2);
  };
  static constexpr std::uint8_t kPng[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (b.size() >= 24 && std::equal(kPng, kPng + 8, b.begin()) && std::memcmp(&b[12], "IHDR", 4) == 0)
    return std::pair{be32(16), be32(20)};
  if (b.size() < 4 || b[0] != 0xFF || b[1] != 0xD8) return std::nullopt;
  std::size_t i = 2;
  while (i + 4 <= b.size()) {
    if (b[i] != 0xFF) return std::nullopt;
    const std::uint8_t marker = b[i + 1];
    if (marker == 0xFF) {  // fill byte
      ++i;
      continue;
    }
    if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {  // markers without a length
      i += 2;
      continue;
    }
    const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof && i + 9 <= b.size()) return std::pair{be16(i + 7), be16(i + 5)};
    if (marker == 0xDA || marker == 0xD9) return std::nullopt;  // scan data or end before a frame header
    i += 2 + static_cast<std::size_t>(be16(i + 2));
  }
  return std::nullopt;
}

// The first PNG chunk whose declared length runs past the end of the file, if any.
// stb_image grows its IDAT buffer to a chunk's declared length before reading it, so
// a 148-byte file declaring a 1 GB IDAT made it allocate 2 GiB (found by fuzzing).
std::optional<std::string> png_chunk_past_end(std::span<const std::uint8_t> b) {
  std::size_t i = 8;  // after the signature
  while (i + 8 <= b.size()) {
    const std::uint64_t length =
        std::uint64_t{b[i]} << 24 | std::uint64_t{b[i + 1]} << 16 | std::uint64_t{b[i + 2]} << 8 | b[i + 3];
    const std::string type(reinterpret_cast<const char*>(&b[i + 4]), 4);
    if (i + 12 + length > b.size())
      return fmt::format("PNG chunk '{}' at byte {} declares {} bytes, the file has {} after it", type, i, length,
                         b.size() - std::min(b.size(), i + 8));
    if (type == "IEND") return std::nullopt;
    i += 12 + length;
  }
  return std::nullopt;
}

DecodeResult failure(std::string error, std::string detail) {
  DecodeResult r;
  r.error = std::move(error);
  r.detail = std::move(detail);
  return r;
}

}  // namespace

DecodeResult check_header(std::span<const std::uint8_t> bytes, const DecodeLimits& limits) {
  if (bytes.size() > static_cast<std::size_t>(INT32_MAX))
    return failure("image_too_large", fmt::format("{} bytes", bytes.size()));
  auto too_large = [&](std::int64_t w, std::int64_t h) {
    return w > limits.max_side || h > limits.max_side || w * h > limits.max_pixels;
  };
  auto refuse = [&](std::int64_t w, std::int64_t h) {
    return failure("image_too_large", fmt::format("{}x{} exceeds the limit ({} px a side, {} px in all)", w, h,
                                                  limits.max_side, limits.max_pixels));
  };
  if (const auto dims = header_dimensions(bytes); dims && too_large(dims->first, dims->second))
    return refuse(dims->first, dims->second);
  static constexpr std::uint8_t kPng[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() >= 8 && std::equal(kPng, kPng + 8, bytes.begin()))
    if (auto past_end = png_chunk_past_end(bytes)) return failure("corrupt_image", *past_end);
  if (auto tables = jpeg_huffman_table_problem(bytes)) return failure("corrupt_image", *tables);
  const auto* data = bytes.data();
  const int len = static_cast<int>(bytes.size());
  int w = 0, h = 0, channels = 0;
  if (!stbi_info_from_memory(data, len, &w, &h, &channels))
    return failure("corrupt_image", fmt::format("not a readable image: {}", stbi_failure_reason()));
  if (w <= 0 || h <= 0) return failure("corrupt_image", fmt::format("empty image {}x{}", w, h));
  if (too_large(w, h)) return refuse(w, h);
  const int bytes_per_channel = stbi_is_16_bit_from_memory(data, len) ? 2 : 1;
  const std::int64_t decoded = std::int64_t{w} * h * channels * bytes_per_channel;
  if (decoded > limits.max_decoded_bytes)
    return failure("image_too_large",
                   fmt::format("{}x{} with {} channel(s) of {} bits decodes to {} bytes, over the decode budget of "
                               "{} bytes ({} MiB)",
                               w, h, channels, 8 * bytes_per_channel, decoded, limits.max_decoded_bytes,
                               limits.max_decoded_bytes >> 20));
  return {};
}

DecodeResult decode_grey(std::span<const std::uint8_t> bytes, const DecodeLimits& limits) {
  if (DecodeResult refused = check_header(bytes, limits); !refused.ok()) return refused;
  const auto* data = bytes.data();
  const int len = static_cast<int>(bytes.size());
  int w = 0, h = 0, channels = 0;
  stbi_info_from_memory(data, len, &w, &h, &channels);

  DecodeResult r;
  r.image.width = w;
  r.image.height = h;
  r.image.pixels.resize(static_cast<std::size_t>(w) * h);
  int dw = 0, dh = 0, dc = 0;
  if (stbi_is_16_bit_from_memory(data, len)) {
    std::unique_ptr<std::uint16_t, StbFree> px(stbi_load_16_from_memory(data, len, &dw, &dh, &dc, 1));
    if (!px || dw != w || dh != h)
      return failure("corrupt_image",
                     fmt::format("16-bit decode failed: {}", px ? "size changed" : stbi_failure_reason()));
    const std::size_t n = r.image.pixels.size();
    const auto [lo, hi] = std::minmax_element(px.get(), px.get() + n);
    const double range = *hi - *lo;
    for (std::size_t i = 0; i < n; ++i)
      r.image.pixels[i] = range > 0 ? static_cast<std::uint8_t>(std::lround((px.get()[i] - *lo) * 255.0 / range)) : 0;
  } else {
    std::unique_ptr<std::uint8_t, StbFree> px(stbi_load_from_memory(data, len, &dw, &dh, &dc, 1));
    if (!px || dw != w || dh != h)
      return failure("corrupt_image", fmt::format("decode failed: {}", px ? "size changed" : stbi_failure_reason()));
    std::memcpy(r.image.pixels.data(), px.get(), r.image.pixels.size());
  }
  apply_exif_orientation(r.image, jpeg_exif_orientation(bytes));
  return r;
}

std::string_view fit_name(Fit fit) {
  return fit == Fit::pad ? "pad" : "crop";
}

std::optional<Fit> parse_fit(std::string_view name) {
  if (name == "pad") return Fit::pad;
  if (name == "crop") return Fit::crop;
  return std::nullopt;
}

FitGeometry fit_geometry(int width, int height, int size, Fit fit) {
  CXR_CHECK(width > 0 && height > 0 && size > 0, "fit_square: image {}x{} to size {}", width, height, size);
  FitGeometry g;
  if (fit == Fit::crop) {
    const int side = std::min(width, height);
    g.src_x = (width - side) / 2;
    g.src_y = (height - side) / 2;
    g.src_w = g.src_h = side;
    g.dst_w = g.dst_h = size;
    return g;
  }
  const double scale = static_cast<double>(size) / std::max(width, height);
  g.src_w = width;
  g.src_h = height;
  g.dst_w = std::clamp(static_cast<int>(std::lround(width * scale)), 1, size);
  g.dst_h = std::clamp(static_cast<int>(std::lround(height * scale)), 1, size);
  g.dst_x = (size - g.dst_w) / 2;
  g.dst_y = (size - g.dst_h) / 2;
  return g;
}

void fit_square(std::uint8_t* out, int size, const GreyImage& image, Fit fit) {
  const FitGeometry g = fit_geometry(image.width, image.height, size, fit);
  const int w = image.width;
  std::memset(out, 0, static_cast<std::size_t>(size) * size);
  const std::uint8_t* from = image.pixels.data() + static_cast<std::size_t>(g.src_y) * w + g.src_x;
  std::uint8_t* to = out + static_cast<std::size_t>(g.dst_y) * size + g.dst_x;
  CXR_CHECK(stbir_resize_uint8(from, g.src_w, g.src_h, w, to, g.dst_w, g.dst_h, size, 1),
            "fit_square: resize failed (out of memory?)");
}

}  // namespace cxr::data
