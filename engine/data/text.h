// Small ASCII string helpers for metadata values and file names.
#pragma once

#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>

namespace cxr::data {

inline std::string_view trim(std::string_view s) {
  const auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  const auto end = s.find_last_not_of(" \t\r\n");
  return s.substr(begin, end - begin + 1);
}

// ASCII only, like every name these files hold; std::tolower would consult the locale.
inline char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

// Without copying: metadata readers call it for every field against every table entry.
inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

// A file name must stay inside its folder.
inline bool safe_file_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find_first_of("/\\") == std::string_view::npos;
}

// An age in years as metadata writes it ("55", " 0.5 "): a plain decimal number in
// [0, 150]. Nothing for anything else (empty, "55Y", "?", "-1"): an age is never guessed.
inline std::optional<double> parse_age_years(std::string_view text) {
  const std::string_view t = trim(text);
  if (t.empty()) return std::nullopt;
  double v = 0.0;
  const auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || ptr != t.data() + t.size() || !std::isfinite(v) || v < 0.0 || v > 150.0) return std::nullopt;
  return v;
}

}  // namespace cxr::data
