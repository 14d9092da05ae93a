// The HTTP vocabulary of the server: request and response types, JSON responses,
// and the error every handler throws for bad input (a 4xx with a JSON body).
#pragma once

#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

namespace cxr::server {

namespace http = boost::beast::http;
namespace json = boost::json;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

constexpr std::size_t kBodyLimit = 25u << 20;  // bytes

// Thrown by handlers; the router turns it into {"error": {"code", "message"}}.
class HttpError : public std::runtime_error {
 public:
  HttpError(http::status status, std::string code, const std::string& message)
      : std::runtime_error(message), status_(status), code_(std::move(code)) {}
  http::status status() const { return status_; }
  const std::string& code() const { return code_; }

 private:
  http::status status_;
  std::string code_;
};

Response json_response(const Request& req, http::status status, const json::value& body);
Response error_response(unsigned version, bool keep_alive, http::status status, std::string_view code,
                        std::string_view message);
Response text_response(const Request& req, http::status status, std::string_view content_type, std::string body);

// The headers every response carries: no MIME sniffing, no framing (clickjacking),
// no referrer, and a Content-Security-Policy allowing what web/ needs and no more.
void add_security_headers(Response& res);

// The media type of a Content-Type header, lower-cased, without parameters.
std::string media_type(std::string_view content_type);

}  // namespace cxr::server
