// Base64 (RFC 4648, with padding): PNG pictures inside JSON as data: URLs.
#pragma once

#include <string>
#include <string_view>

namespace cxr::server {

std::string base64_encode(std::string_view bytes);

}  // namespace cxr::server
