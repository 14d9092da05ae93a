#include "server/access_log.h"

#include <fmt/format.h>

#include <cstdio>

namespace cxr::server {

std::string loggable_path(std::string_view target) {
  std::string path;
  for (const char c : target.substr(0, target.find('?')))
    path.push_back(static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e ? '?' : c);
  return path;
}

void AccessLog::begin(std::string method, std::string_view target) {
  method_ = std::move(method);
  path_ = loggable_path(target);
  start_ = std::chrono::steady_clock::now();
}

void AccessLog::end(unsigned status, std::size_t body_bytes) {
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
  fmt::print(stderr, "cxr serve: {} {} {} {}B {:.1f}ms\n", method_, path_, status, body_bytes, ms);
  *this = AccessLog();  // the next request on this connection starts afresh
}

}  // namespace cxr::server
