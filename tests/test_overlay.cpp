// Heatmap overlays: colour map, blending, the map taken back through the fit
// geometry, PNG text chunks and the atomic file writer.
#include "data_fixtures.h"
#include "expect_error.h"

#include "engine/io/atomic_file.h"
#include "engine/random.h"
#include "models/overlay.h"

#include <stb/stb_image.h>

#include <cmath>

using namespace cxr;

namespace {

TEST(Overlay, JetFollowsMatplotlibsSegmentData) {
  using Rgb = std::array<std::uint8_t, 3>;
  EXPECT_EQ(jet(0.0), (Rgb{0, 0, 128}));   // blue 0.5 -> 127.5 rounds up
  EXPECT_EQ(jet(1.0), (Rgb{128, 0, 0}));   // red 0.5
  EXPECT_EQ(jet(-3.0), jet(0.0));          // clamped
  EXPECT_EQ(jet(0.11), (Rgb{0, 0, 255}));  // blue knot at 1, green still 0 before 0.125
  // 0.5: red (0.5-0.35)/0.31 = 0.4839 -> 123; green 1; blue 1 - 0.16/0.31 = 0.4839 -> 123.
  EXPECT_EQ(jet(0.5), (Rgb{123, 255, 123}));
  // 0.75: red 1; green 1 - (0.75-0.64)/0.27 = 0.5926 -> 151; blue 0.
  EXPECT_EQ(jet(0.75), (Rgb{255, 151, 0}));
}

TEST(Overlay, BlendsGreyAndColourByOpacityAndLeavesNaNGrey) {
  const data::GreyImage xray{2, 1, {100, 200}};
  const Tensor heat = Tensor::from_vector(std::vector<double>{1.0, NAN}, {1, 2}, DType::F64);
  const RgbImage none = render_overlay(xray, heat, 0.0);
  EXPECT_EQ(none.pixels, (std::vector<std::uint8_t>{100, 100, 100, 200, 200, 200}));
  const RgbImage full = render_overlay(xray, heat, 1.0);
  EXPECT_EQ(full.pixels, (std::vector<std::uint8_t>{128, 0, 0, 200, 200, 200}));
  // 0.25: 0.75 * 100 + 0.25 * (128, 0, 0) = (107, 75, 75).
  const RgbImage quarter = render_overlay(xray, heat, 0.25);
  EXPECT_EQ(quarter.pixels, (std::vector<std::uint8_t>{107, 75, 75, 200, 200, 200}));
  cxr::testing::expect_error_mentioning([&] { render_overlay(xray, heat, 1.5); }, {"opacity 1.5"});
  cxr::testing::expect_error_mentioning([&] { render_overlay(xray, Tensor::zeros({2, 2}), 0.5); }, {"2x1"});
}

TEST(Overlay, FitGeometryDescribesWhereFitSquarePutsTheImage) {
  // A 100 x 50 image, black with a white 10 x 10 block at x 40..50, y 10..20.
  data::GreyImage img{100, 50, std::vector<std::uint8_t>(5000, 0)};
  for (int y = 10; y < 20; ++y)
    for (int x = 40; x < 50; ++x) img.pixels[y * 100 + x] = 255;
  for (data::Fit fit : {data::Fit::pad, data::Fit::crop}) {
    const int size = 40;
    std::vector<std::uint8_t> out(size * size);
    data::fit_square(out.data(), size, img, fit);
    const data::FitGeometry g = data::fit_geometry(100, 50, size, fit);
    // The block's centre (45, 15) maps to the brightness-weighted centroid of the square.
    double sx = 0, sy = 0, total = 0;
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) {
        sx += out[y * size + x] * (x + 0.5);
        sy += out[y * size + x] * (y + 0.5);
        total += out[y * size + x];
      }
    ASSERT_GT(total, 0) << data::fit_name(fit);
    // Resampling filters ring a little, asymmetrically at the borders: a quarter pixel.
    EXPECT_NEAR(sx / total, g.to_square_x(45), 0.25) << data::fit_name(fit);
    EXPECT_NEAR(sy / total, g.to_square_y(15), 0.25) << data::fit_name(fit);
    EXPECT_NEAR(g.to_source_x(g.to_square_x(37.5)), 37.5, 1e-12);
  }
  // pad: 100 x 50 -> 40 x 20, centred vertically; crop: the centre 50 x 50 square.
  const data::FitGeometry pad = data::fit_geometry(100, 50, 40, data::Fit::pad);
  EXPECT_EQ(std::vector<int>({pad.dst_x, pad.dst_y, pad.dst_w, pad.dst_h}), std::vector<int>({0, 10, 40, 20}));
  const data::FitGeometry crop = data::fit_geometry(100, 50, 40, data::Fit::crop);
  EXPECT_EQ(std::vector<int>({crop.src_x, crop.src_y, crop.src_w, crop.src_h}), std::vector<int>({25, 0, 50, 50}));
}

TEST(Overlay, HeatmapGoesBackThroughTheGeometry) {
  // A map of 4 x 4, constant 0.5 in the rows the image occupies after pad (4 x 2 at rows 1..3).
  std::vector<double> values(16, 0.0);
  for (int x = 0; x < 4; ++x) values[1 * 4 + x] = values[2 * 4 + x] = 0.5;
  const Tensor map = Tensor::from_vector(values, {4, 4}, DType::F64);
  const data::FitGeometry pad = data::fit_geometry(8, 4, 4, data::Fit::pad);
  const Tensor back = heatmap_to_source(map, pad, 4, 8, 4);
  ASSERT_EQ(back.shape(), (Shape{4, 8}));
  // Source rows map to square y in [1, 3]; rows 0 and 3 sit at 1.25 and 2.75, which
  // interpolate between the 0.5 rows and the 0 rows (centres 0.5 and 3.5): 0.375.
  EXPECT_DOUBLE_EQ(back.at(0 * 8 + 3), 0.375);
  EXPECT_DOUBLE_EQ(back.at(1 * 8 + 3), 0.5);
  EXPECT_DOUBLE_EQ(back.at(2 * 8 + 3), 0.5);
  EXPECT_DOUBLE_EQ(back.at(3 * 8 + 3), 0.375);
  // Identity geometry: the map itself.
  const Tensor same = heatmap_to_source(map, data::fit_geometry(4, 4, 4, data::Fit::pad), 4, 4, 4);
  for (int i = 0; i < 16; ++i) EXPECT_DOUBLE_EQ(same.at(i), values[i]);
  // crop: the sides outside the centre square have no heat.
  const Tensor cropped = heatmap_to_source(map, data::fit_geometry(8, 4, 4, data::Fit::crop), 4, 8, 4);
  EXPECT_TRUE(std::isnan(cropped.at(0)));
  EXPECT_TRUE(std::isnan(cropped.at(7)));
  EXPECT_FALSE(std::isnan(cropped.at(1 * 8 + 2)));
  // A map of another size than the geometry's square covers the same square: the
  // 4 x 4 map upsampled to 8 x 8 by nearest neighbour gives the same values back.
  std::vector<double> big(64);
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) big[y * 8 + x] = values[(y / 2) * 4 + x / 2];
  const Tensor scaled = heatmap_to_source(Tensor::from_vector(big, {8, 8}, DType::F64),
                                          data::fit_geometry(4, 4, 4, data::Fit::pad), 4, 4, 4);
  // Source pixel centres (i + 0.5) land on map coordinates 2i + 1, the edge between
  // two equal map pixels: exact.
  for (int i = 0; i < 16; ++i) EXPECT_DOUBLE_EQ(scaled.at(i), values[i]);
}

TEST(Overlay, PngCarriesTextChunksAndDecodesToThePixels) {
  RgbImage img{3, 2, {}};
  for (int i = 0; i < 18; ++i) img.pixels.push_back(static_cast<std::uint8_t>(i * 14));
  const std::vector<std::pair<std::string, std::string>> text = {{"cxr:class", "covid"}, {"cxr:probability", "0.973"}};
  const std::string png = encode_png(img, text);
  EXPECT_EQ(png_text_chunks(png), text);
  int w = 0, h = 0, c = 0;
  unsigned char* px = stbi_load_from_memory(reinterpret_cast<const unsigned char*>(png.data()),
                                            static_cast<int>(png.size()), &w, &h, &c, 3);
  ASSERT_NE(px, nullptr) << stbi_failure_reason();
  EXPECT_EQ(std::vector<std::uint8_t>(px, px + 18), img.pixels);
  stbi_image_free(px);
  // A flipped bit in a text chunk fails its CRC.
  std::string damaged = png;
  damaged[damaged.find("covid")] ^= 1;
  cxr::testing::expect_error_mentioning([&] { png_text_chunks(damaged); }, {"CRC", "cxr:class"});
  cxr::testing::expect_error_mentioning([&] { encode_png(img, {{"", "x"}}); }, {"keyword"});
  cxr::testing::expect_error_mentioning([&] { encode_png(img, {{"k", std::string("a\0b", 3)}}); }, {"NUL"});
}

// Paeth filtering reads the left, upper and upper-left bytes: widths of 1 and 2
// pixels (no left neighbour in the row), one row (no upper one), and random bytes
// (every predictor branch and wrap-around of the filtered differences).
TEST(Overlay, PngDecodesToThePixelsAtEveryShape) {
  Generator gen(11);
  for (const auto& [w, h] : std::vector<std::pair<int, int>>{{1, 1}, {1, 7}, {2, 5}, {7, 1}, {33, 17}, {192, 192}}) {
    RgbImage img{w, h, std::vector<std::uint8_t>(static_cast<std::size_t>(w) * h * 3)};
    for (std::size_t i = 0; i < img.pixels.size(); ++i)
      img.pixels[i] = static_cast<std::uint8_t>(i % 5 == 0 ? 255 * gen.uniform() : (i * 7) % 256);
    const std::string png = encode_png(img, {});
    int dw = 0, dh = 0, dc = 0;
    unsigned char* px = stbi_load_from_memory(reinterpret_cast<const unsigned char*>(png.data()),
                                              static_cast<int>(png.size()), &dw, &dh, &dc, 3);
    ASSERT_NE(px, nullptr) << w << "x" << h << ": " << stbi_failure_reason();
    EXPECT_EQ(dw, w);
    EXPECT_EQ(dh, h);
    EXPECT_EQ(std::vector<std::uint8_t>(px, px + img.pixels.size()), img.pixels) << w << "x" << h;
    stbi_image_free(px);
  }
}

TEST(Overlay, BlendFromTheColoursEqualsRenderingAgain) {
  Generator gen(12);
  data::GreyImage xray{23, 19, std::vector<std::uint8_t>(23 * 19)};
  std::vector<double> heat(xray.pixels.size());
  for (std::size_t i = 0; i < heat.size(); ++i) {
    xray.pixels[i] = static_cast<std::uint8_t>(255 * gen.uniform());
    heat[i] = i % 9 == 0 ? NAN : gen.uniform();
  }
  const Tensor map = Tensor::from_vector(heat, {19, 23}, DType::F64);
  const RgbImage colours = render_overlay(xray, map, 1.0);
  for (double opacity : {0.0, 0.25, 0.5, 0.7, 1.0})
    EXPECT_EQ(blend_overlay(xray, colours, opacity).pixels, render_overlay(xray, map, opacity).pixels) << opacity;
  cxr::testing::expect_error_mentioning([&] { blend_overlay(xray, RgbImage{2, 2, {}}, 0.5); }, {"2x2", "23x19"});
}

TEST(Overlay, HeatmapCsvHasOneLinePerRow) {
  const Tensor map = Tensor::from_vector(std::vector<double>{0, 0.5, 1, 0.25, 0.125, 1.0 / 3}, {2, 3}, DType::F64);
  EXPECT_EQ(heatmap_csv(map), "0.000000,0.500000,1.000000\n0.250000,0.125000,0.333333\n");
}

TEST(Overlay, AtomicWriteReplacesTheFileAndLeavesNoTemporary) {
  cxr::test::TempDir dir;
  const std::string path = (dir / "out.png").string();
  write_file_atomically(path, "first");
  write_file_atomically(path, "second");
  EXPECT_EQ(cxr::test::read_file(path), "second");
  int files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 1);
  const std::string missing_dir = (dir / "no/such/dir/x.png").string();
  cxr::testing::expect_error_mentioning([&] { write_file_atomically(missing_dir, "x"); },
                                        {"no/such/dir/x.png", "No such file"});
}

}  // namespace
