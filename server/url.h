// Request targets: "/api/v1/samples?label=covid&page=2" -> path segments and
// percent-decoded query parameters (application/x-www-form-urlencoded rules).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cxr::server {

struct Target {
  std::string path;                          // decoded, e.g. "/api/v1/samples"
  std::vector<std::string> segments;         // {"api", "v1", "samples"}
  std::map<std::string, std::string> query;  // last value wins

  std::optional<std::string> param(const std::string& name) const;
};

// Returns nothing for a malformed target (bad percent escape, not starting with '/',
// a NUL in the path or in a query parameter).
std::optional<Target> parse_target(std::string_view target);

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space);

}  // namespace cxr::server
