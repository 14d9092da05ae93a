#include "server/host_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace cxr::server {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool all_digits(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

}  // namespace

std::vector<std::string> default_allowed_hosts() {
  return {"localhost", "127.0.0.1", "[::1]"};
}

std::optional<std::string> host_name(std::string_view header) {
  std::string_view name = header;
  std::string_view port;
  if (!header.empty() && header.front() == '[') {
    const auto close = header.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    name = header.substr(0, close + 1);
    const std::string_view rest = header.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
    }
  } else if (const auto colon = header.find(':'); colon != std::string_view::npos) {
    name = header.substr(0, colon);
    port = header.substr(colon + 1);
  }
  if (name.empty() || !all_digits(port)) return std::nullopt;
  return lower(name);
}

void require_allowed_host(const Request& req, const std::vector<std::string>& allowed) {
  const auto field = req.find(http::field::host);
  if (field == req.end()) {
    if (req.version() >= 11)
      throw HttpError(http::status::bad_request, "missing_host", "an HTTP/1.1 request needs a Host header");
    return;
  }
  const auto name = host_name(field->value());
  const bool known =
      name && std::any_of(allowed.begin(), allowed.end(), [&](const std::string& a) { return lower(a) == *name; });
  if (!known)
    throw HttpError(http::status::misdirected_request, "host_not_allowed",
                    fmt::format("this server does not answer for host '{}' (start it with --allowed-host NAME "
                                "to add a name)",
                                std::string(field->value())));
}

}  // namespace cxr::server
