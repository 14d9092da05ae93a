// multipart/form-data (server/multipart.h): the first line of the input is the
// Content-Type header, the rest the body. The parts found must lie inside the body.
#include "fuzz_support.h"

#include "server/http.h"
#include "server/multipart.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = cxr::fuzz::text(data, size);
  const auto line_end = input.find('\n');
  const std::string_view content_type = input.substr(0, line_end);
  const std::string_view body = line_end == std::string_view::npos ? std::string_view() : input.substr(line_end + 1);
  const auto boundary = cxr::server::multipart_boundary(content_type);
  if (!boundary) return 0;
  try {
    const auto parts = cxr::server::parse_multipart(body, *boundary);
    for (const auto& part : parts)
      if (part.body.data() < body.data() || part.body.data() + part.body.size() > body.data() + body.size())
        __builtin_trap();  // a part outside the body it was cut from
    cxr::server::find_part(parts, "image");
  } catch (const cxr::server::HttpError&) {
  }
  return 0;
}
