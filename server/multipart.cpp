#include "server/multipart.h"

#include "server/http.h"

#include <algorithm>
#include <cctype>

namespace cxr::server {

namespace {

[[noreturn]] void malformed(const std::string& why) {
  throw HttpError(http::status::bad_request, "malformed_multipart", "malformed multipart body: " + why);
}

bool iequals_prefix(std::string_view line, std::string_view prefix) {
  if (line.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) != prefix[i]) return false;
  return true;
}

// The value of `key="..."` (or key=token) in a header's parameter list.
std::string header_parameter(std::string_view header, std::string_view key) {
  std::size_t pos = 0;
  while ((pos = header.find(key, pos)) != std::string_view::npos) {
    const bool starts = pos == 0 || header[pos - 1] == ';' || header[pos - 1] == ' ';
    const std::size_t after = pos + key.size();
    if (starts && after < header.size() && header[after] == '=') {
      std::string_view rest = header.substr(after + 1);
      if (!rest.empty() && rest.front() == '"') {
        const auto close = rest.find('"', 1);
        return std::string(rest.substr(1, close == rest.npos ? rest.npos : close - 1));
      }
      return std::string(rest.substr(0, rest.find(';')));
    }
    pos = after;
  }
  return {};
}

}  // namespace

std::optional<std::string> multipart_boundary(std::string_view content_type) {
  std::string boundary = header_parameter(content_type, "boundary");
  if (boundary.empty() || boundary.size() > 70) return std::nullopt;
  return boundary;
}

std::vector<FormPart> parse_multipart(std::string_view body, const std::string& boundary) {
  const std::string delimiter = "--" + boundary;
  std::size_t pos = body.find(delimiter);
  if (pos == std::string_view::npos) malformed("no boundary line");
  std::vector<FormPart> parts;
  for (;;) {
    pos += delimiter.size();
    if (body.substr(pos, 2) == "--") return parts;  // closing delimiter
    if (body.substr(pos, 2) != "\r\n") malformed("boundary not followed by CRLF");
    pos += 2;
    const auto headers_end = body.find("\r\n\r\n", pos);
    if (headers_end == std::string_view::npos) malformed("part headers not terminated");
    FormPart part;
    std::string_view headers = body.substr(pos, headers_end - pos);
    while (!headers.empty()) {
      const auto eol = headers.find("\r\n");
      const std::string_view line = headers.substr(0, eol);
      if (iequals_prefix(line, "content-disposition:")) {
        part.name = header_parameter(line, "name");
        part.filename = header_parameter(line, "filename");
      } else if (iequals_prefix(line, "content-type:")) {
        part.content_type = media_type(line.substr(13));
      }
      if (eol == std::string_view::npos) break;
      headers.remove_prefix(eol + 2);
    }
    const std::size_t data_begin = headers_end + 4;
    const auto next = body.find("\r\n" + delimiter, data_begin);
    if (next == std::string_view::npos) malformed("no closing boundary");
    part.body = body.substr(data_begin, next - data_begin);
    parts.push_back(part);
    pos = next + 2;
  }
}

const FormPart* find_part(const std::vector<FormPart>& parts, std::string_view name) {
  const auto it = std::find_if(parts.begin(), parts.end(), [&](const FormPart& p) { return p.name == name; });
  return it == parts.end() ? nullptr : &*it;
}

}  // namespace cxr::server
