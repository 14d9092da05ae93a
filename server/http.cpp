#include "server/http.h"

#include <algorithm>
#include <cctype>

namespace cxr::server {

Response text_response(const Request& req, http::status status, std::string_view content_type, std::string body) {
  Response res{status, req.version()};
  res.set(http::field::server, "cxr");
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response json_response(const Request& req, http::status status, const json::value& body) {
  return text_response(req, status, "application/json", json::serialize(body));
}

Response error_response(unsigned version, bool keep_alive, http::status status, std::string_view code,
                        std::string_view message) {
  Response res{status, version};
  res.set(http::field::server, "cxr");
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(keep_alive);
  json::object error{{"code", code}, {"message", message}};
  res.body() = json::serialize(json::object{{"error", std::move(error)}});
  res.prepare_payload();
  return res;
}

void add_security_headers(Response& res) {
  res.set("X-Content-Type-Options", "nosniff");
  res.set("X-Frame-Options", "DENY");
  res.set("Referrer-Policy", "no-referrer");
  // web/ has no inline script or style; images are its own, the heatmap (a data: URL)
  // and the chosen file (a blob: URL).
  res.set("Content-Security-Policy",
          "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; "
          "form-action 'self'; frame-ancestors 'none'");
}

std::string media_type(std::string_view content_type) {
  const auto semicolon = content_type.find(';');
  std::string_view type = content_type.substr(0, semicolon);
  while (!type.empty() && std::isspace(static_cast<unsigned char>(type.back()))) type.remove_suffix(1);
  while (!type.empty() && std::isspace(static_cast<unsigned char>(type.front()))) type.remove_prefix(1);
  std::string out(type);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace cxr::server
