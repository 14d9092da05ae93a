#include "server/path_redaction.h"

namespace cxr::server {

namespace {

bool starts_path(std::string_view text, std::size_t i) {
  if (text[i] != '/') return false;
  if (i == 0) return true;
  const char before = text[i - 1];
  return before == ' ' || before == '\'' || before == '"' || before == '(' || before == '=' || before == ':' ||
         before == '\t' || before == '\n';
}

bool ends_path(char c) {
  return c == ' ' || c == '\'' || c == '"' || c == ',' || c == ')' || c == '\t' || c == '\n';
}

}  // namespace

std::string without_absolute_paths(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (!starts_path(text, i)) {
      out += text[i++];
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && !ends_path(text[end])) ++end;
    // A ':' or '.' closing the path belongs to the sentence ("cannot read /a/b: ...").
    while (end > i + 1 && (text[end - 1] == ':' || text[end - 1] == '.')) --end;
    const std::string_view path = text.substr(i, end - i);
    const std::size_t last = path.find_last_of('/');
    out += last == 0 ? std::string(path) : ".../" + std::string(path.substr(last + 1));
    i = end;
  }
  return out;
}

}  // namespace cxr::server
