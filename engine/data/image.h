// Image decoding (stb_image) and the square resize every cached image goes through.
//
// decode_grey: JPEG or PNG, 8 or 16 bit, grey / grey+alpha / RGB / RGBA -> 8-bit
// grey. Colour becomes luma with stb_image's BT.601 weights (77 R + 150 G + 29 B)/256;
// alpha is dropped (the X-rays with alpha are fully opaque). 16-bit images are
// stretched from their own min..max to 0..255, since many 16-bit radiographs hold
// 10- to 12-bit data that a fixed /257 would leave nearly black. The dimensions are
// read from the header first, and an image over the limits is refused before any
// pixel memory is allocated (decompression bombs).
// A JPEG's EXIF orientation is applied (engine/data/exif_orientation.h): the image
// comes out as a browser shows it.
//
// fit_square: size x size, aspect ratio kept. `pad` (the default) scales the longer
// side to `size` and centres the image on black: nothing of the chest is lost, and
// black is what air looks like on a radiograph. `crop` scales the shorter side and
// cuts the centre square, which can remove the apices or the costophrenic angles.
// Resampling is stb_image_resize's default (Mitchell filter when shrinking,
// Catmull-Rom when enlarging), in linear intensity.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace cxr::data {

struct GreyImage {
  int width = 0, height = 0;
  std::vector<std::uint8_t> pixels;  // row-major, width * height
};

// The longest side an image may have, in `cxr data build`, `cxr predict` and the
// web app's uploads alike (data build can raise it with --max-side).
inline constexpr int kMaxImageSide = 8192;

// The decode budget: width * height * channels * bytes per channel as the header
// declares them, the size of the buffer the decoder fills before converting to
// grey. 64 MiB is an 8192 x 8192 8-bit grey image (the largest grey image the side
// limit allows), or 4096 x 4096 RGBA; the largest image in the shared datasets needs
// 26.7 MB. stb_image holds up to about three such buffers while decoding (the
// inflated stream, the unfiltered image, the converted copy), so one decode stays
// under ~200 MB; a 16-bit RGBA PNG declaring 8192 x 8192 (512 MiB, 1.1 GB to decode)
// is refused from its header.
inline constexpr std::int64_t kMaxDecodedBytes = std::int64_t{64} << 20;

struct DecodeLimits {
  int max_side = kMaxImageSide;                       // pixels, either side
  std::int64_t max_pixels = 100'000'000;              // width * height
  std::int64_t max_decoded_bytes = kMaxDecodedBytes;  // width * height * channels * bytes per channel
  std::int64_t max_file_bytes = 256ll << 20;          // checked by the caller before reading
};

struct DecodeResult {
  GreyImage image;
  std::string error;  // empty on success, else "corrupt_image" or "image_too_large"
  std::string detail;
  bool ok() const { return error.empty(); }
};

// What the header alone shows to be unusable (over a limit, over the decode budget,
// no readable image): a failed DecodeResult, else one with ok() and no pixels. Reads
// no pixel; decode_grey calls it first, and a caller may call it before waiting for
// a decode slot.
DecodeResult check_header(std::span<const std::uint8_t> bytes, const DecodeLimits& limits);

DecodeResult decode_grey(std::span<const std::uint8_t> bytes, const DecodeLimits& limits);

enum class Fit : std::uint8_t { pad, crop };
std::string_view fit_name(Fit fit);
std::optional<Fit> parse_fit(std::string_view name);

// Where fit_square puts an image: the source rectangle src_* (pixels of the image)
// is resampled onto the rectangle dst_* of the square; the rest of the square is
// black. Coordinates are continuous, with pixel i covering [i, i + 1).
struct FitGeometry {
  int src_x = 0, src_y = 0, src_w = 1, src_h = 1;
  int dst_x = 0, dst_y = 0, dst_w = 1, dst_h = 1;
  double to_square_x(double x) const { return dst_x + (x - src_x) * dst_w / src_w; }
  double to_square_y(double y) const { return dst_y + (y - src_y) * dst_h / src_h; }
  double to_source_x(double x) const { return src_x + (x - dst_x) * src_w / dst_w; }
  double to_source_y(double y) const { return src_y + (y - dst_y) * src_h / dst_h; }
};
FitGeometry fit_geometry(int width, int height, int size, Fit fit);

// Writes image resized to size x size into out (size * size bytes).
void fit_square(std::uint8_t* out, int size, const GreyImage& image, Fit fit);

}  // namespace cxr::data
