// Small ASCII string helpers for metadata values and file names.
#pragma once

#include <string>
#include <string_view>

namespace cxr::data {

inline std::string_view trim(std::string_view s) {
  const auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  const auto end = s.find_last_not_of(" \t\r\n");
  return s.substr(begin, end - begin + 1);
}

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

inline bool iequals(std::string_view a, std::string_view b) { return lower(a) == lower(b); }

}  // namespace cxr::data
