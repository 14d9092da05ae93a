// The Host header check against DNS rebinding: a page on evil.example whose name
// resolves to 127.0.0.1 reaches this server with "Host: evil.example", so only the
// names the server is known by are answered.
#pragma once

#include "server/http.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cxr::server {

// Names answered by default (with any port): the loopback names a browser uses.
std::vector<std::string> default_allowed_hosts();

// The host name of a Host header value ("name", "name:port", "[v6]", "[v6]:port"),
// lower-cased; nullopt when the value is malformed (empty name, non-numeric port).
std::optional<std::string> host_name(std::string_view header);

// Throws HttpError: 400 missing_host for HTTP/1.1 without Host (RFC 9112 3.2),
// 421 host_not_allowed for a name not in `allowed` (case-insensitive).
void require_allowed_host(const Request& req, const std::vector<std::string>& allowed);

}  // namespace cxr::server
