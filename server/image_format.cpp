#include "server/image_format.h"

#include "server/http.h"

#include <fmt/format.h>
#include <stb/stb_image.h>

namespace cxr::server {

std::string_view image_media_type(std::string_view bytes) {
  constexpr std::string_view png = "\x89PNG\r\n\x1a\n";
  constexpr std::string_view jpeg = "\xFF\xD8\xFF";
  if (bytes.substr(0, png.size()) == png) return "image/png";
  if (bytes.substr(0, jpeg.size()) == jpeg) return "image/jpeg";
  return {};
}

void require_accepted_image_format(std::string_view bytes) {
  if (!image_media_type(bytes).empty()) return;
  int width = 0, height = 0, channels = 0;
  if (stbi_info_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), static_cast<int>(bytes.size()), &width,
                            &height, &channels))
    throw HttpError(http::status::unsupported_media_type, "unsupported_image_format",
                    fmt::format("the image is not in an accepted format (accepted: {})", kAcceptedImageFormats));
}

}  // namespace cxr::server
