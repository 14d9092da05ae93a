// The decode budget (engine/data/image.h, kMaxDecodedBytes): an image whose header
// declares more decoded bytes (width * height * channels * bytes per channel) than
// the budget is refused before any pixel is decoded, with a message naming the limit.
#include "png_bombs.h"

#include "engine/data/image.h"

#include <gtest/gtest.h>

using namespace cxr::data;
using cxr::test::header_only_png;
using cxr::test::zero_png;

namespace {

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
