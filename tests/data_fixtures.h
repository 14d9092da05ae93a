// Synthetic data for the engine/data tests: a temporary directory, small images
// written with stb_image_write (and a hand-made 16-bit PNG, which stb cannot
// write), and text files.
#pragma once

#include <stb/stb_image_write.h>

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace cxr::test {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cxr-data-test-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A w x h image with `channels` channels whose content depends on `id`, so images
// with different ids never decode to the same pixels.
inline std::vector<std::uint8_t> pattern(int w, int h, int channels, int id) {
  std::vector<std::uint8_t> px(static_cast<std::size_t>(w) * h * channels);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c)
        px[(static_cast<std::size_t>(y) * w + x) * channels + c] =
            static_cast<std::uint8_t>((x * 7 + y * 13 + c * 50 + id * 31 + (x * y * (id + 1)) / 5) & 0xff);
  return px;
}

inline void write_png(const std::filesystem::path& path, int w, int h, int channels,
                      const std::vector<std::uint8_t>& px) {
  std::filesystem::create_directories(path.parent_path());
  ASSERT_TRUE(stbi_write_png(path.c_str(), w, h, channels, px.data(), w * channels)) << path;
}

inline void write_jpg(const std::filesystem::path& path, int w, int h, int channels,
                      const std::vector<std::uint8_t>& px) {
  std::filesystem::create_directories(path.parent_path());
  ASSERT_TRUE(stbi_write_jpg(path.c_str(), w, h, channels, px.data(), 95)) << path;
}

// ---- a minimal PNG writer for what stb_image_write cannot produce -------------

inline std::uint32_t crc32(const std::string& bytes) {
  std::uint32_t c = 0xffffffffu;
  for (unsigned char b : bytes) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return c ^ 0xffffffffu;
}

inline std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

inline std::string png_chunk(const std::string& type, const std::string& data) {
  return be32(static_cast<std::uint32_t>(data.size())) + type + data + be32(crc32(type + data));
}

// zlib stream of stored (uncompressed) deflate blocks.
inline std::string zlib_stored(const std::string& raw) {
  std::string out = "\x78\x01";
  std::size_t pos = 0;
  do {
    const std::size_t n = std::min<std::size_t>(raw.size() - pos, 65535);
    const bool last = pos + n == raw.size();
    out += static_cast<char>(last ? 1 : 0);
    out += static_cast<char>(n & 0xff);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(~n & 0xff);
    out += static_cast<char>((~n >> 8) & 0xff);
    out += raw.substr(pos, n);
    pos += n;
  } while (pos < raw.size());
  std::uint32_t a = 1, b = 0;
  for (unsigned char c : raw) a = (a + c) % 65521, b = (b + a) % 65521;
  return out + be32((b << 16) | a);
}

inline std::string png_header(std::uint32_t w, std::uint32_t h, int bit_depth, int colour_type) {
  std::string ihdr = be32(w) + be32(h);
  ihdr += static_cast<char>(bit_depth);
  ihdr += static_cast<char>(colour_type);
  ihdr += std::string(3, '\0');  // compression, filter, interlace
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr);
}

// A 16-bit greyscale PNG.
inline std::string png16(int w, int h, const std::vector<std::uint16_t>& values) {
  std::string raw;
  for (int y = 0; y < h; ++y) {
    raw += '\0';  // filter: none
    for (int x = 0; x < w; ++x) {
      const std::uint16_t v = values[static_cast<std::size_t>(y) * w + x];
      raw += static_cast<char>(v >> 8);
      raw += static_cast<char>(v & 0xff);
    }
  }
  return png_header(w, h, 16, 0) + png_chunk("IDAT", zlib_stored(raw)) + png_chunk("IEND", "");
}

// A PNG whose header claims w x h 8-bit grey pixels but whose data is tiny: what a
// decompression bomb looks like before decoding.
inline std::string png_claiming(std::uint32_t w, std::uint32_t h) {
  return png_header(w, h, 8, 0) + png_chunk("IDAT", zlib_stored(std::string(16, '\0'))) + png_chunk("IEND", "");
}

}  // namespace cxr::test
