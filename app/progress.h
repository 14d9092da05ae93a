// Progress of long work on stderr: a bar redrawn in place when stderr is a
// terminal, otherwise one line per 10 % (logs and CI stay readable).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace cxr::cli {

class Progress {
 public:
  explicit Progress(std::FILE* out = stderr);
  // Reports `done` of `total` for `stage`; a new stage ends the previous one's line.
  void update(std::string_view stage, std::int64_t done, std::int64_t total);

 private:
  std::FILE* out_;
  bool tty_;
  std::string stage_;
  std::chrono::steady_clock::time_point start_;
  int last_decile_ = -1;
  bool open_line_ = false;
};

}  // namespace cxr::cli
