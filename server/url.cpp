#include "server/url.h"

namespace cxr::server {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (s[i] == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::optional<std::string> Target::param(const std::string& name) const {
  const auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

std::optional<Target> parse_target(std::string_view target) {
  if (target.empty() || target.front() != '/') return std::nullopt;
  const auto question = target.find('?');
  Target t;
  const std::string_view raw_path = target.substr(0, question);
  auto path = percent_decode(raw_path, false);
  if (!path || path->find('\0') != std::string::npos) return std::nullopt;
  t.path = *path;

  std::size_t start = 1;
  while (start <= raw_path.size()) {
    const auto slash = raw_path.find('/', start);
    const auto piece = raw_path.substr(start, slash == std::string_view::npos ? raw_path.npos : slash - start);
    if (!piece.empty()) {
      auto decoded = percent_decode(piece, false);
      if (!decoded) return std::nullopt;
      t.segments.push_back(std::move(*decoded));
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }

  if (question != std::string_view::npos) {
    std::string_view query = target.substr(question + 1);
    while (!query.empty()) {
      const auto amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      if (!pair.empty()) {
        const auto eq = pair.find('=');
        auto key = percent_decode(pair.substr(0, eq), true);
        auto value = percent_decode(eq == pair.npos ? std::string_view{} : pair.substr(eq + 1), true);
        // A NUL is never a parameter: C code further down would cut the value there.
        if (!key || !value || key->find('\0') != std::string::npos || value->find('\0') != std::string::npos)
          return std::nullopt;
        t.query[std::move(*key)] = std::move(*value);
      }
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
  }
  return t;
}

}  // namespace cxr::server
