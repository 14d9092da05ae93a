// Decoding, the square resize and SHA-256 (engine/data/{image,sha256}.h).
#include "data_fixtures.h"
#include "engine/data/exif_orientation.h"
#include "engine/data/image.h"
#include "engine/data/sha256.h"

#include <gtest/gtest.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>

using namespace cxr::data;
using cxr::test::TempDir;

namespace {

std::vector<std::uint8_t> bytes_of(const std::string& s) {
  return {s.begin(), s.end()};
}

DecodeResult decode_file(const std::filesystem::path& p, const DecodeLimits& limits = {}) {
  return decode_grey(bytes_of(cxr::test::read_file(p)), limits);
}

}  // namespace

TEST(DataSha256, KnownVectors) {
  // FIPS 180-4 examples.
  EXPECT_EQ(to_hex(sha256(bytes_of(""))), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(to_hex(sha256(bytes_of("abc"))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(to_hex(sha256(bytes_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // One million 'a', fed in uneven pieces through the incremental interface.
  Sha256 h;
  const std::vector<std::uint8_t> a(1000, 'a');
  std::size_t fed = 0;
  for (std::size_t piece = 1; fed < 1000000; piece = piece % 997 + 1) {
    const std::size_t n = std::min(piece, 1000000 - fed);
    h.update({a.data(), n});
    fed += n;
  }
  EXPECT_EQ(to_hex(h.finish()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(DataImage, DecodesGreyRgbAndRgbaPngToGrey) {
  TempDir dir;
  const int w = 7, h = 5;
  const auto grey = cxr::test::pattern(w, h, 1, 3);
  cxr::test::write_png(dir / "g.png", w, h, 1, grey);
  auto r = decode_file(dir / "g.png");
  ASSERT_TRUE(r.ok()) << r.detail;
  EXPECT_EQ(r.image.width, w);
  EXPECT_EQ(r.image.height, h);
  EXPECT_EQ(r.image.pixels, grey);  // PNG is lossless

  // RGB and RGBA become BT.601 luma, (77 R + 150 G + 29 B) >> 8 as stb_image computes it.
  for (int channels : {3, 4}) {
    const auto px = cxr::test::pattern(w, h, channels, 4);
    cxr::test::write_png(dir / "c.png", w, h, channels, px);
    r = decode_file(dir / "c.png");
    ASSERT_TRUE(r.ok()) << r.detail;
    for (int i = 0; i < w * h; ++i) {
      const int R = px[i * channels], G = px[i * channels + 1], B = px[i * channels + 2];
      EXPECT_EQ(r.image.pixels[i], (R * 77 + G * 150 + B * 29) >> 8)
          << "pixel " << i << ", " << channels << " channels";
    }
  }
}

TEST(DataImage, DecodesJpeg) {
  TempDir dir;
  // A smooth grey ramp: JPEG at quality 95 reproduces it within a few levels.
  const int w = 32, h = 16;
  std::vector<std::uint8_t> ramp(w * h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) ramp[y * w + x] = static_cast<std::uint8_t>(40 + 5 * x + 2 * y);
  cxr::test::write_jpg(dir / "r.jpg", w, h, 1, ramp);
  const auto r = decode_file(dir / "r.jpg");
  ASSERT_TRUE(r.ok()) << r.detail;
  ASSERT_EQ(r.image.width, w);
  ASSERT_EQ(r.image.height, h);
  for (int i = 0; i < w * h; ++i) EXPECT_NEAR(r.image.pixels[i], ramp[i], 6) << i;  // lossy codec
}

TEST(DataImage, SixteenBitPngIsStretchedFromItsOwnRange) {
  // 12-bit data in a 16-bit PNG: 100..4095 must span 0..255, not 0..15.
  const int w = 4, h = 2;
  const std::vector<std::uint16_t> v = {100, 4095, 2097, 100, 4095, 1000, 3000, 2500};
  const auto r = decode_grey(bytes_of(cxr::test::png16(w, h, v)), {});
  ASSERT_TRUE(r.ok()) << r.error << ": " << r.detail;
  ASSERT_EQ(r.image.pixels.size(), 8u);
  for (int i = 0; i < w * h; ++i) EXPECT_EQ(r.image.pixels[i], std::lround((v[i] - 100) * 255.0 / 3995.0)) << i;
  // A constant 16-bit image has no range: it decodes to black instead of dividing by zero.
  const auto flat = decode_grey(bytes_of(cxr::test::png16(2, 2, {7, 7, 7, 7})), {});
  ASSERT_TRUE(flat.ok());
  EXPECT_EQ(flat.image.pixels, (std::vector<std::uint8_t>{0, 0, 0, 0}));
}

TEST(DataImage, CorruptAndTruncatedFilesAreRejected) {
  TempDir dir;
  auto r = decode_grey(bytes_of("this is not an image at all"), {});
  EXPECT_EQ(r.error, "corrupt_image");
  EXPECT_FALSE(r.detail.empty());
  EXPECT_EQ(decode_grey({}, {}).error, "corrupt_image");

  cxr::test::write_png(dir / "p.png", 64, 64, 1, cxr::test::pattern(64, 64, 1, 9));
  std::string png = cxr::test::read_file(dir / "p.png");
  r = decode_grey(bytes_of(png.substr(0, png.size() / 2)), {});
  EXPECT_EQ(r.error, "corrupt_image") << "a PNG cut in half";
  r = decode_grey(bytes_of(png.substr(0, 20)), {});
  EXPECT_EQ(r.error, "corrupt_image") << "a PNG cut inside its header";
}

TEST(DataImage, DimensionLimitRefusesDecompressionBombsBeforeDecoding) {
  // The header claims 100000 x 100000 pixels (10 GB); the file is a few bytes. It
  // must be refused from the header, not by trying to allocate.
  auto r = decode_grey(bytes_of(cxr::test::png_claiming(100000, 100000)), {});
  EXPECT_EQ(r.error, "image_too_large") << r.detail;
  EXPECT_NE(r.detail.find("100000x100000"), std::string::npos) << r.detail;
  // The same for a JPEG frame header claiming 60000 x 60000.
  TempDir dir;
  cxr::test::write_jpg(dir / "j.jpg", 16, 8, 1, cxr::test::pattern(16, 8, 1, 2));
  std::string jpg = cxr::test::read_file(dir / "j.jpg");
  const auto sof = jpg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  jpg[sof + 5] = jpg[sof + 7] = static_cast<char>(0xEA);  // height and width 0xEA60 = 60000
  jpg[sof + 6] = jpg[sof + 8] = static_cast<char>(0x60);
  r = decode_grey(bytes_of(jpg), {});
  EXPECT_EQ(r.error, "image_too_large") << r.detail;
  EXPECT_NE(r.detail.find("60000x60000"), std::string::npos) << r.detail;
  // Within the side limit but over the pixel limit.
  r = decode_grey(bytes_of(cxr::test::png_claiming(12000, 12000)), {});
  EXPECT_EQ(r.error, "image_too_large");
  // A small real image against a small limit.
  DecodeLimits tight;
  tight.max_side = 16;
  r = decode_grey(bytes_of(cxr::test::png16(17, 2, std::vector<std::uint16_t>(34, 1))), tight);
  EXPECT_EQ(r.error, "image_too_large");
  tight.max_side = 17;
  EXPECT_TRUE(decode_grey(bytes_of(cxr::test::png16(17, 2, std::vector<std::uint16_t>(34, 1))), tight).ok());
}

TEST(DataImage, PadKeepsTheWholeImageCentredOnBlack) {
  // A white 40x20 image into 16x16: 16x8 of white, 4 black rows above and below.
  GreyImage wide{40, 20, std::vector<std::uint8_t>(800, 255)};
  std::vector<std::uint8_t> out(256, 77);
  fit_square(out.data(), 16, wide, Fit::pad);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x) EXPECT_EQ(out[y * 16 + x], (y >= 4 && y < 12) ? 255 : 0) << x << "," << y;
  // Tall: 10x30 into 12x12 is 4x12, columns 4..7.
  GreyImage tall{10, 30, std::vector<std::uint8_t>(300, 200)};
  out.assign(144, 77);
  fit_square(out.data(), 12, tall, Fit::pad);
  for (int y = 0; y < 12; ++y)
    for (int x = 0; x < 12; ++x) EXPECT_EQ(out[y * 12 + x], (x >= 4 && x < 8) ? 200 : 0) << x << "," << y;
}

TEST(DataImage, CropKeepsTheCentreSquare) {
  // 30x10: left 10 columns 0, middle 10 columns 100, right 10 columns 250. The crop
  // keeps the middle square only.
  GreyImage img{30, 10, std::vector<std::uint8_t>(300)};
  for (int y = 0; y < 10; ++y)
    for (int x = 0; x < 30; ++x) img.pixels[y * 30 + x] = x < 10 ? 0 : x < 20 ? 100 : 250;
  std::vector<std::uint8_t> out(25);
  fit_square(out.data(), 5, img, Fit::crop);
  for (auto v : out) EXPECT_EQ(v, 100);
  EXPECT_EQ(parse_fit("crop"), Fit::crop);
  EXPECT_FALSE(parse_fit("stretch"));
}

namespace {

// A 32x16 JPEG, bright in its top-left quadrant and dark elsewhere, with an APP1
// Exif segment (written by hand, big-endian TIFF) right after the start-of-image
// marker: the IFD at `ifd_offset` holds one entry, Orientation = `orientation`.
std::vector<std::uint8_t> jpeg_with_exif(int orientation, std::uint32_t ifd_offset = 8) {
  const int w = 32, h = 16;
  std::vector<std::uint8_t> px(w * h, 30);
  for (int y = 0; y < h / 2; ++y)
    for (int x = 0; x < w / 2; ++x) px[y * w + x] = 220;
  std::vector<std::uint8_t> jpeg;
  auto append = [](void* out, void* data, int n) {
    auto* bytes = static_cast<std::uint8_t*>(data);
    static_cast<std::vector<std::uint8_t>*>(out)->insert(static_cast<std::vector<std::uint8_t>*>(out)->end(), bytes,
                                                         bytes + n);
  };
  EXPECT_TRUE(stbi_write_jpg_to_func(append, &jpeg, w, h, 1, px.data(), 95));
  const auto b0 = [](std::uint32_t v, int shift) {
    return static_cast<std::uint8_t>(v >> shift);
  };
  const std::vector<std::uint8_t> app1 = {0xFF,
                                          0xE1,
                                          0,
                                          34,  // APP1, length 2 + 6 + 26
                                          'E',
                                          'x',
                                          'i',
                                          'f',
                                          0,
                                          0,  // Exif header
                                          'M',
                                          'M',
                                          0,
                                          42,  // TIFF, big-endian
                                          b0(ifd_offset, 24),
                                          b0(ifd_offset, 16),
                                          b0(ifd_offset, 8),
                                          b0(ifd_offset, 0),
                                          0,
                                          1,  // one IFD entry:
                                          0x01,
                                          0x12,
                                          0,
                                          3,
                                          0,
                                          0,
                                          0,
                                          1,  //   Orientation, SHORT, count 1
                                          0,
                                          static_cast<std::uint8_t>(orientation),
                                          0,
                                          0,
                                          0,
                                          0,
                                          0,
                                          0};  // no next IFD
  jpeg.insert(jpeg.begin() + 2, app1.begin(), app1.end());
  return jpeg;
}

// Which quadrant of a decoded image is brightest: 0 top-left, 1 top-right,
// 2 bottom-left, 3 bottom-right.
int bright_quadrant(const GreyImage& img) {
  double sum[4] = {};
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x)
      sum[(y >= img.height / 2) * 2 + (x >= img.width / 2)] += img.pixels[y * img.width + x];
  return static_cast<int>(std::max_element(sum, sum + 4) - sum);
}

}  // namespace

TEST(DataImage, AppliesJpegExifOrientation) {
  struct Case {
    int orientation, width, height, quadrant;
  };
  // 3 turns 180°, 6 turns clockwise (top-left goes top-right), 8 counter-clockwise.
  for (const Case c : {Case{1, 32, 16, 0}, Case{3, 32, 16, 3}, Case{6, 16, 32, 1}, Case{8, 16, 32, 2}}) {
    const auto jpeg = jpeg_with_exif(c.orientation);
    EXPECT_EQ(jpeg_exif_orientation(jpeg), c.orientation);
    const auto r = decode_grey(jpeg, {});
    ASSERT_TRUE(r.ok()) << r.detail;
    EXPECT_EQ(r.image.width, c.width) << "orientation " << c.orientation;
    EXPECT_EQ(r.image.height, c.height) << "orientation " << c.orientation;
    EXPECT_EQ(bright_quadrant(r.image), c.quadrant) << "orientation " << c.orientation;
  }
}

TEST(DataImage, MalformedExifDecodesAsStored) {
  std::vector<std::vector<std::uint8_t>> malformed = {
      jpeg_with_exif(6, 0xFFFFFFF0),  // IFD offset far past the segment
      jpeg_with_exif(6, 16),          // IFD entry cut off by the segment's end
      jpeg_with_exif(9),              // no such orientation
  };
  auto huge_count = jpeg_with_exif(6);
  huge_count[2 + 18] = 0xFF;  // 65281 IFD entries announced, one present
  huge_count[2 + 21] = 0x13;  // and that one is not the orientation tag
  malformed.push_back(huge_count);
  auto long_segment = jpeg_with_exif(6);
  long_segment[2 + 2] = 0xFF;  // APP1 length beyond the end of the file
  malformed.push_back(long_segment);
  for (std::size_t i = 0; i < malformed.size(); ++i) {
    EXPECT_EQ(jpeg_exif_orientation(malformed[i]), 1) << "case " << i;
    const auto r = decode_grey(malformed[i], {});
    if (!r.ok()) continue;  // stb_image may refuse the damaged file: fine, as long as nothing crashes
    EXPECT_EQ(r.image.width, 32) << "case " << i;
    EXPECT_EQ(bright_quadrant(r.image), 0) << "case " << i;
  }
  EXPECT_EQ(jpeg_exif_orientation(std::vector<std::uint8_t>{0xFF, 0xD8}), 1);
  EXPECT_EQ(jpeg_exif_orientation(std::vector<std::uint8_t>{0xFF, 0xD8, 0xFF, 0xE1, 0x00}), 1);
}

TEST(DataImage, ExifOrientationMirrorsAndTransposes) {
  // A 3x2 image 0 1 2 / 3 4 5, shown in each of the eight orientations.
  const std::vector<std::vector<std::uint8_t>> shown = {{0, 1, 2, 3, 4, 5}, {2, 1, 0, 5, 4, 3}, {5, 4, 3, 2, 1, 0},
                                                        {3, 4, 5, 0, 1, 2}, {0, 3, 1, 4, 2, 5}, {3, 0, 4, 1, 5, 2},
                                                        {5, 2, 4, 1, 3, 0}, {2, 5, 1, 4, 0, 3}};
  for (int o = 1; o <= 8; ++o) {
    GreyImage img{3, 2, {0, 1, 2, 3, 4, 5}};
    apply_exif_orientation(img, o);
    EXPECT_EQ(img.width, o >= 5 ? 2 : 3) << "orientation " << o;
    EXPECT_EQ(img.pixels, shown[o - 1]) << "orientation " << o;
  }
}
