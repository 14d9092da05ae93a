// Decompression bombs for the decode-budget tests: valid PNGs whose pixels are all
// zero, so that a header declaring 8192 x 8192 fits in a few megabytes (deflated at
// the fastest level: a 16-bit RGBA 8192 x 8192 image is 2.3 MB, made in ~1.5 s).
// Rows are deflated one at a time: the test never holds the decoded image.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace cxr::test {

namespace png_detail {

inline void put_be32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xFF));
}

inline void put_chunk(std::string& out, const char* type, const std::string& data) {
  put_be32(out, static_cast<std::uint32_t>(data.size()));
  const std::string typed = std::string(type, 4) + data;
  out += typed;
  put_be32(out, static_cast<std::uint32_t>(
                    crc32(0, reinterpret_cast<const Bytef*>(typed.data()), static_cast<uInt>(typed.size()))));
}

// colour_type: 0 grey, 2 RGB, 4 grey + alpha, 6 RGBA (PNG spec 11.2.2); bit_depth 8 or 16.
inline std::string ihdr(int width, int height, int bit_depth, int colour_type) {
  std::string data;
  put_be32(data, static_cast<std::uint32_t>(width));
  put_be32(data, static_cast<std::uint32_t>(height));
  data += {static_cast<char>(bit_depth), static_cast<char>(colour_type), 0, 0, 0};
  return data;
}

}  // namespace png_detail

// A PNG signature, IHDR and IEND without pixel data: enough for a header check.
inline std::string header_only_png(int width, int height, int bit_depth, int colour_type) {
  using namespace png_detail;
  std::string png = "\x89PNG\r\n\x1a\n";
  put_chunk(png, "IHDR", ihdr(width, height, bit_depth, colour_type));
  put_chunk(png, "IEND", "");
  return png;
}

inline std::string zero_png(int width, int height, int bit_depth, int colour_type) {
  using namespace png_detail;
  const int channels = colour_type == 0 ? 1 : colour_type == 2 ? 3 : colour_type == 4 ? 2 : 4;
  z_stream z{};
  if (deflateInit(&z, Z_BEST_SPEED) != Z_OK) throw std::runtime_error("deflateInit failed");
  std::vector<Bytef> row(1 + static_cast<std::size_t>(width) * channels * bit_depth / 8, 0);  // filter byte 0
  std::string idat;
  std::vector<Bytef> chunk(1 << 16);
  auto pump = [&](int flush) {
    do {
      z.next_out = chunk.data();
      z.avail_out = static_cast<uInt>(chunk.size());
      deflate(&z, flush);
      idat.append(reinterpret_cast<const char*>(chunk.data()), chunk.size() - z.avail_out);
    } while (z.avail_out == 0);
  };
  for (int y = 0; y < height; ++y) {
    z.next_in = row.data();
    z.avail_in = static_cast<uInt>(row.size());
    pump(Z_NO_FLUSH);
  }
  pump(Z_FINISH);
  deflateEnd(&z);

  std::string png = "\x89PNG\r\n\x1a\n";
  put_chunk(png, "IHDR", ihdr(width, height, bit_depth, colour_type));
  put_chunk(png, "IDAT", idat);
  put_chunk(png, "IEND", "");
  return png;
}

}  // namespace cxr::test
