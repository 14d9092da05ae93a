// Pictures of a heatmap: the X-ray in grey with the map in the jet colour map
// blended over it, written as a PNG with text metadata; and the map as CSV.
//
// The map lives on the model's input square (size x size, after fit_square); the
// overlay is drawn on the decoded image at its own resolution, so the map is taken
// back through the fit geometry (engine/data/image.h) and sampled bilinearly
// (half-pixel centres). Parts of the image that the square does not show (the
// sides cut off by `crop`) get no colour.
#pragma once

#include "engine/data/image.h"
#include "engine/tensor.h"

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace cxr {

struct RgbImage {
  int width = 0, height = 0;
  std::vector<std::uint8_t> pixels;  // row-major, R G B interleaved
};

// matplotlib's "jet" (its piecewise-linear segment data): 0 dark blue, 0.5 green-ish
// cyan/yellow, 1 dark red. v is clamped to [0, 1].
std::array<std::uint8_t, 3> jet(double v);

// The map [m, m] -> [height, width] of the source image, where `geometry` places the
// image on a square of `square_size` (the map covers the same square: coordinates
// scale by m / square_size). Values outside the square's picture of the image are
// NaN (no colour).
Tensor heatmap_to_source(const Tensor& map, const data::FitGeometry& geometry, int square_size, int width, int height);

// Where a square of side `square_size` that `geometry` fits the image onto lies in
// the image's own pixel coordinates (x right, y down from its top-left corner): the
// exact transform of a map on that square back to the image. Larger than the image
// when it was padded, inside it when cropped.
struct SourceBox {
  double x = 0, y = 0, width = 0, height = 0;
};
SourceBox square_in_source(const data::FitGeometry& geometry, int square_size);

// out = (1 - opacity) * grey + opacity * jet(heat) per pixel; grey alone where heat
// is NaN. heat is [xray.height, xray.width]; opacity in [0, 1].
RgbImage render_overlay(const data::GreyImage& xray, const Tensor& heat, double opacity);

// The blend of render_overlay from its colours alone (render_overlay at opacity 1):
// equal to render_overlay(xray, heat, opacity) pixel for pixel, without evaluating
// the colour map again (the server returns both with ?overlay=true).
RgbImage blend_overlay(const data::GreyImage& xray, const RgbImage& colours, double opacity);

// PNG bytes (8-bit RGB, Paeth-filtered rows deflated by zlib) with one tEXt chunk
// per (keyword, text) pair after the header. Keywords are 1-79 printable Latin-1
// characters; text is Latin-1 with no NUL (checked).
std::string encode_png(const RgbImage& image, const std::vector<std::pair<std::string, std::string>>& text);

// The tEXt chunks of a PNG, in file order (for tests and tools).
std::vector<std::pair<std::string, std::string>> png_text_chunks(const std::string& png);

// A 2-D map as CSV: one line per row, values with 6 decimals, comma-separated.
std::string heatmap_csv(const Tensor& map);

}  // namespace cxr
