// Server tests talk real HTTP over loopback: a small synchronous Beast client,
// PNG/JPEG bytes made in memory, and a tiny narrowed model built in the test so
// that predictions take milliseconds.
#pragma once

#include "models/model_file.h"
#include "models/presets.h"
#include "server/http.h"

#include <stb/stb_image_write.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace cxr::test {

namespace http = boost::beast::http;
namespace json = boost::json;

struct HttpResult {
  unsigned status = 0;
  std::string content_type;
  std::string body;
  std::map<std::string, std::string> headers;
  json::value json() const { return json::parse(body); }
  std::string error_code() const { return json().at("error").at("code").as_string().c_str(); }
};

// One request on a fresh connection. `target` is sent as written (no encoding).
inline HttpResult request(unsigned short port, http::verb method, const std::string& target,
                          const std::string& body = "", const std::string& content_type = "",
                          const std::map<std::string, std::string>& headers = {}) {
  namespace asio = boost::asio;
  asio::io_context ioc;
  asio::ip::tcp::socket socket(ioc);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!content_type.empty()) req.set(http::field::content_type, content_type);
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  boost::beast::error_code ec;
  // The server may answer and stop reading before the body is sent (413): read its answer anyway.
  http::write(socket, req, ec);
  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  http::read(socket, buffer, parser, ec);
  HttpResult r;
  if (ec && ec != http::error::end_of_stream) throw boost::system::system_error(ec);
  const auto& res = parser.get();
  r.status = res.result_int();
  r.content_type = std::string(res[http::field::content_type]);
  for (const auto& field : res) r.headers[std::string(field.name_string())] = std::string(field.value());
  r.body = res.body();
  return r;
}

inline void append_bytes(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<std::size_t>(size));
}

// A chest-like grey test picture: a bright frame with two darker "lungs", varied by id.
inline std::vector<std::uint8_t> picture(int w, int h, int id) {
  std::vector<std::uint8_t> px(static_cast<std::size_t>(w) * h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double u = (x + 0.5) / w - 0.5, v = (y + 0.5) / h - 0.5;
      const bool lung = (std::abs(std::abs(u) - 0.2) < 0.12 + 0.02 * (id % 3)) && std::abs(v) < 0.3;
      px[static_cast<std::size_t>(y) * w + x] =
          static_cast<std::uint8_t>(lung ? 40 + (x * 3 + y * id) % 30 : 160 + (x + 2 * y + id * 17) % 60);
    }
  return px;
}

inline std::string png_bytes(int w, int h, int id = 0) {
  std::string out;
  const auto px = picture(w, h, id);
  stbi_write_png_to_func(append_bytes, &out, w, h, 1, px.data(), w);
  return out;
}

inline std::string jpeg_bytes(int w, int h, int id = 0) {
  std::string out;
  const auto px = picture(w, h, id);
  stbi_write_jpg_to_func(append_bytes, &out, w, h, 1, px.data(), 90);
  return out;
}

inline std::string multipart(const std::string& boundary,
                             const std::vector<std::tuple<std::string, std::string, std::string>>& fields) {
  std::string body;
  for (const auto& [name, filename, content] : fields) {
    body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"";
    if (!filename.empty()) body += "; filename=\"" + filename + "\"\r\nContent-Type: application/octet-stream";
    body += "\r\n\r\n" + content + "\r\n";
  }
  return body + "--" + boundary + "--\r\n";
}

inline const std::vector<std::string>& tiny_classes() {
  static const std::vector<std::string> names{"covid", "normal"};
  return names;
}

// A narrowed 2-class net on 64x64 inputs, initialised from `seed`.
inline LoadedModel tiny_model(std::uint64_t seed = 1) {
  LoadedModel m;
  m.info.preset = "test-tiny";
  m.info.config = NetConfig::cxr_small(2).narrowed(0.125);
  m.info.config.blocks.resize(4);
  m.info.config.input_size = 64;
  m.info.class_names = tiny_classes();
  m.info.mean = 0.5f;
  m.info.stddev = 0.25f;
  m.net = make_net(m.info.config, seed);
  m.params = std::make_unique<ParameterSet>(*m.net, seed);
  m.net->eval();
  return m;
}

}  // namespace cxr::test
