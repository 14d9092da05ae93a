// EXIF orientation of JPEG files. A camera or a phone stores the pixels as the
// sensor read them and records in the Orientation tag (0x0112 of the APP1 "Exif"
// segment's first IFD) how to turn them for display; browsers apply it, stb_image
// does not. Applying it here makes the model classify, and Grad-CAM explain, the
// image the user sees.
//
// Orientation values (EXIF 2.3, TIFF 6.0): 1 as stored, 2 mirrored left-right,
// 3 turned 180°, 4 mirrored top-bottom, 5 transposed (mirrored along the main
// diagonal), 6 turned 90° clockwise, 7 transversed (mirrored along the other
// diagonal), 8 turned 90° counter-clockwise.
#pragma once

#include "engine/data/image.h"

#include <cstdint>
#include <span>

namespace cxr::data {

// 1..8 from the bytes of a JPEG file; 1 for other files, without the tag, or when
// the Exif data is malformed (every offset is checked against the segment).
int jpeg_exif_orientation(std::span<const std::uint8_t> bytes);

// Turns and mirrors image as orientation says, so that it reads as displayed;
// orientations 5 to 8 swap width and height.
void apply_exif_orientation(GreyImage& image, int orientation);

}  // namespace cxr::data
