// The image formats the API accepts, one list for the code, the docs
// (docs/openapi.yaml) and the error messages: PNG and JPEG. The decoder below
// (stb_image) reads more (BMP, GIF, PGM/PPM, PSD, TGA, HDR, PIC); those are refused
// at the door, so that what is stored and served is always one of the two.
#pragma once

#include <string_view>

namespace cxr::server {

inline constexpr std::string_view kAcceptedImageFormats = "PNG, JPEG";

// "image/png" or "image/jpeg" by the leading bytes; empty for anything else.
std::string_view image_media_type(std::string_view bytes);

// Throws HttpError 415 unsupported_image_format for an image of another format the
// decoder knows. Bytes that are no image at all pass, for the decoder to refuse as
// corrupt_image.
void require_accepted_image_format(std::string_view bytes);

}  // namespace cxr::server
