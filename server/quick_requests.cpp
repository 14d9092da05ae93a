#include "server/quick_requests.h"

#include "server/url.h"

namespace cxr::server {

bool is_quick_request(const Request& req) {
  if (req.method() != http::verb::get && req.method() != http::verb::head) return false;
  const auto target = parse_target(req.target());
  if (!target) return false;  // the handler pool answers the 400
  const auto& s = target->segments;
  if (s.empty() || s[0] != "api") return true;
  return s.size() == 3 && s[1] == "v1" && s[2] == "health";
}

}  // namespace cxr::server
