// Static files from one folder (web/): only regular files inside it, never a
// path that escapes it (no "..", no hidden names, symlinks resolved and checked).
#pragma once

#include "server/http.h"

#include <filesystem>
#include <optional>
#include <string>

namespace cxr::server {

std::string_view content_type_for(const std::filesystem::path& file);

// The file under `root` for a decoded request path ("/" -> index.html), or nothing
// when the path is not allowed or no such file exists.
std::optional<std::filesystem::path> resolve_static(const std::filesystem::path& root, const std::string& path);

Response file_response(const Request& req, const std::filesystem::path& file);

}  // namespace cxr::server
