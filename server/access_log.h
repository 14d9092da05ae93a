// The access log: one line per answered request on stderr, with method, path,
// status, body bytes and latency. The query is left out (it may carry a patient id),
// and so are every header (the token) and the bodies.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace cxr::server {

// The path of a request target, without its query, with unprintable bytes as '?'.
std::string loggable_path(std::string_view target);

// One request's line: begin() when its header has arrived, end() when the answer is written.
class AccessLog {
 public:
  void begin(std::string method, std::string_view target);
  // Writes the line; for an answer without begin() (a header that could not be read),
  // method and path are "-".
  void end(unsigned status, std::size_t body_bytes);

 private:
  std::string method_ = "-";
  std::string path_ = "-";
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace cxr::server
