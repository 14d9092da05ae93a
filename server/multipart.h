// multipart/form-data bodies (RFC 7578): the parts of a browser form upload.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cxr::server {

struct FormPart {
  std::string name;          // Content-Disposition name
  std::string filename;      // empty for plain fields
  std::string content_type;  // media type of the part, lower-cased ("" when absent)
  std::string_view body;     // view into the request body
};

// The boundary parameter of a multipart Content-Type, if any.
std::optional<std::string> multipart_boundary(std::string_view content_type);

// Splits `body` at `boundary`; throws HttpError (400) for a malformed body.
std::vector<FormPart> parse_multipart(std::string_view body, const std::string& boundary);

const FormPart* find_part(const std::vector<FormPart>& parts, std::string_view name);

}  // namespace cxr::server
