// The decode budget (engine/data/image.h, kMaxDecodedBytes): an image whose header
// declares more decoded bytes (width * height * channels * bytes per channel) than
// the budget is refused before any pixel is decoded, with a message naming the limit.
#include "png_bombs.h"

#include "engine/data/image.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

using namespace cxr::data;
using cxr::test::header_only_png;
using cxr::test::zero_png;

namespace {

// A file of the committed fuzz corpus (tests/fuzz/corpus/image/).
std::string corpus_file(const std::string& name) {
  const char* env = std::getenv("CXR_SOURCE_DIR");
  const std::filesystem::path source =
      env && *env ? std::filesystem::path(env) : std::filesystem::path(__FILE__).parent_path().parent_path();
  std::ifstream in(source / "tests/fuzz/corpus/image" / name, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

DecodeResult decode(const std::string& png, const DecodeLimits& limits = {}) {
  return decode_grey(std::span(reinterpret_cast<const std::uint8_t*>(png.data()), png.size()), limits);
}

DecodeResult header(const std::string& png) {
  return check_header(std::span(reinterpret_cast<const std::uint8_t*>(png.data()), png.size()), DecodeLimits{});
}

}  // namespace

TEST(DecodeBudget, IsSixtyFourMiB) {
  EXPECT_EQ(kMaxDecodedBytes, std::int64_t{kMaxImageSide} * kMaxImageSide);  // an 8192^2 8-bit grey image
  EXPECT_EQ(DecodeLimits{}.max_decoded_bytes, kMaxDecodedBytes);
}

TEST(DecodeBudget, RgbaOverTheBudgetIsRefusedWithTheLimitNamed) {
  // 4097 x 4096 RGBA: 16 KiB over the budget, well within the side and pixel limits.
  const DecodeResult r = decode(zero_png(4097, 4096, 8, 6));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error, "image_too_large");
  EXPECT_NE(r.detail.find("decode budget of 67108864 bytes (64 MiB)"), std::string::npos) << r.detail;
  EXPECT_NE(r.detail.find("4097x4096 with 4 channel(s) of 8 bits"), std::string::npos) << r.detail;
}

TEST(DecodeBudget, SixteenBitBombIsRefusedFromItsHeader) {
  // The bomb: a 16-bit RGBA PNG declaring 8192 x 8192 (512 MiB decoded).
  // The header alone decides (test_server_memory sends the whole file).
  const DecodeResult r = header(header_only_png(8192, 8192, 16, 6));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.detail.find("of 16 bits decodes to 536870912 bytes"), std::string::npos) << r.detail;
}

TEST(DecodeBudget, ImagesWithinTheBudgetPass) {
  EXPECT_TRUE(header(header_only_png(8192, 8192, 8, 0)).ok());    // exactly the budget
  EXPECT_TRUE(header(header_only_png(5792, 5792, 16, 0)).ok());   // 16-bit grey, just under
  EXPECT_FALSE(header(header_only_png(5793, 5793, 16, 0)).ok());  // and just over
  EXPECT_TRUE(header(header_only_png(4096, 4096, 8, 6)).ok());
  EXPECT_FALSE(header(header_only_png(4096, 4097, 8, 6)).ok());
  const DecodeResult small = decode(zero_png(300, 200, 16, 6));
  ASSERT_TRUE(small.ok()) << small.detail;
  EXPECT_EQ(small.image.width, 300);
}

TEST(DecodeBudget, ALimitOfTheCallerIsHonoured) {
  DecodeLimits limits;
  limits.max_decoded_bytes = 300 * 200 * 3;
  EXPECT_TRUE(decode(zero_png(300, 200, 8, 2), limits).ok());
  const DecodeResult r = decode(zero_png(301, 200, 8, 2), limits);
  EXPECT_EQ(r.error, "image_too_large");
}

// Found by fuzzing (tests/fuzz, fuzz_image): a 148-byte PNG whose second IDAT chunk
// declares 1.5 GB made stb_image grow its buffer to 2 GiB before reading anything.
// Such a file is refused from its chunk lengths, before stb_image sees it.
TEST(DecodeBudget, AChunkLongerThanTheFileIsRefusedBeforeDecoding) {
  std::string png = header_only_png(1, 17, 16, 0);
  png.resize(png.size() - 12);  // without IEND
  png += std::string("\x5d\x22\x0b\xbd", 4) + "IDAT" + std::string(40, '\0');
  const DecodeResult r = decode(png);
  EXPECT_EQ(r.error, "corrupt_image");
  EXPECT_NE(r.detail.find("PNG chunk 'IDAT' at byte 33 declares 1562512317 bytes"), std::string::npos) << r.detail;
}

// Found by fuzzing (fuzz_image): a 548-byte JPEG whose scan uses AC Huffman table 0,
// which the file never defines (its DHT defines table 1/1 twice). Debian's stb_image
// decodes it from uninitialised memory and crashed reading far out of bounds (ASan:
// SEGV). Such a file is refused from its tables, before stb_image sees it. The file
// is a fuzzer's artifact, not a dataset image.
TEST(DecodeBudget, AScanWithAnUndefinedHuffmanTableIsRefusedBeforeDecoding) {
  const std::string jpeg = corpus_file("undefined-huffman-table.jpg");
  ASSERT_EQ(jpeg.size(), 548u) << "missing the fuzzer's artifact";
  const DecodeResult r = decode(jpeg);
  EXPECT_EQ(r.error, "corrupt_image");
  EXPECT_NE(r.detail.find("a scan uses AC Huffman table 0, never defined"), std::string::npos) << r.detail;
}

// The check refuses nothing the decoders read: every JPEG of the seed corpus passes.
TEST(DecodeBudget, ValidJpegTablesPass) {
  for (const char* name : {"grey-48x40.jpg", "rgb-40x36.jpg", "exif6-48x40.jpg"}) {
    const std::string jpeg = corpus_file(name);
    ASSERT_FALSE(jpeg.empty()) << name;
    EXPECT_TRUE(decode(jpeg).ok()) << name << ": " << decode(jpeg).detail;
  }
}
