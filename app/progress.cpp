#include "app/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>

namespace cxr::cli {

Progress::Progress(std::FILE* out) : out_(out), tty_(::isatty(::fileno(out)) == 1) {}

void Progress::update(std::string_view stage, std::int64_t done, std::int64_t total) {
  const auto now = std::chrono::steady_clock::now();
  if (stage != stage_) {
    if (open_line_) fmt::print(out_, "\n");
    open_line_ = false;
    stage_ = stage;
    start_ = now;
    last_decile_ = -1;
  }
  const double fraction = total > 0 ? std::clamp(static_cast<double>(done) / total, 0.0, 1.0) : 1.0;
  const double seconds = std::chrono::duration<double>(now - start_).count();
  const double rate = seconds > 0.5 ? done / seconds : 0.0;  // too early for a rate before that
  if (tty_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth);
    const std::string eta = rate > 0 && done < total ? fmt::format("  ETA {:.0f} s", (total - done) / rate) : "";
    const std::string speed = rate > 0 ? fmt::format("  {:.0f}/s", rate) : "";
    fmt::print(out_, "\r{:>10} [{}{}] {:3.0f}%  {}/{}{}{}\033[K", stage_, std::string(filled, '#'),
               std::string(kWidth - filled, '.'), 100 * fraction, done, total, speed, eta);
    open_line_ = true;
    if (done >= total) {
      fmt::print(out_, "\n");
      open_line_ = false;
    }
  } else {
    const int decile = static_cast<int>(fraction * 10);
    if (decile == last_decile_) return;
    last_decile_ = decile;
    fmt::print(out_, "{}: {}/{} ({:.0f}%, {:.0f}/s)\n", stage_, done, total, 100 * fraction, rate);
  }
  std::fflush(out_);
}

}  // namespace cxr::cli
