#include "server/static_files.h"

#include <fstream>
#include <sstream>

namespace cxr::server {

namespace fs = std::filesystem;

std::string_view content_type_for(const fs::path& file) {
  const std::string ext = file.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".json") return "application/json";
  if (ext == ".yaml" || ext == ".yml") return "application/yaml";
  if (ext == ".png") return "image/png";
  if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".ico") return "image/x-icon";
  return "application/octet-stream";
}

std::optional<fs::path> resolve_static(const fs::path& root, const std::string& path) {
  if (path.empty() || path.front() != '/') return std::nullopt;
  fs::path relative;
  std::size_t start = 1;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const std::string piece = path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (!piece.empty()) {
      // No parent or hidden entries, no backslashes or NULs that another layer might reinterpret.
      if (piece.front() == '.' || piece.find_first_of(std::string("\\\0:", 3)) != std::string::npos)
        return std::nullopt;
      relative /= piece;
    }
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (relative.empty() || path.back() == '/') relative /= "index.html";

  std::error_code ec;
  const fs::path base = fs::canonical(root, ec);
  if (ec) return std::nullopt;
  const fs::path file = fs::canonical(base / relative, ec);
  if (ec || !fs::is_regular_file(file, ec)) return std::nullopt;
  // Symlinks inside web/ must not lead out of it.
  const auto [root_end, unused] = std::mismatch(base.begin(), base.end(), file.begin(), file.end());
  if (root_end != base.end()) return std::nullopt;
  return file;
}

Response file_response(const Request& req, const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw HttpError(http::status::not_found, "not_found", "no such file");
  std::ostringstream content;
  content << in.rdbuf();
  Response res = text_response(req, http::status::ok, content_type_for(file), content.str());
  res.set(http::field::cache_control, "no-cache");
  if (req.method() == http::verb::head) res.body().clear();
  return res;
}

}  // namespace cxr::server
