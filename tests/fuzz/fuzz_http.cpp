// A whole HTTP session through the router, in memory (no socket): the input is the
// byte stream a client sends. Beast's parser (with the server's body limit) cuts it
// into requests, each is answered by server::handle (the router, every handler, the
// inference service with a tiny model, a store in a temporary folder, the static
// files of web/) and the answer is serialised, until the stream ends, fails to
// parse or asks to close.
//
// The store's token is unknown to the fuzzer; "@token@" in the input is replaced by
// it, so that the seeds reach the handlers behind the token too.
#include "fuzz_support.h"

#include "server/app.h"
#include "server/router.h"

#include <boost/beast/core/flat_buffer.hpp>

#include <unistd.h>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace {

namespace fs = std::filesystem;
namespace http = cxr::server::http;

struct Fixture {
  fs::path dir = fs::temp_directory_path() / ("cxr-fuzz-http-" + std::to_string(::getpid()));
  std::unique_ptr<cxr::server::InferenceService> inference;
  std::unique_ptr<cxr::server::Store> store;
  std::string token;
  cxr::server::App app;

  Fixture() {
    fs::create_directories(dir);
    auto served = std::make_shared<cxr::server::ServedModel>();
    served->version = "fuzz";
    served->model = cxr::fuzz::tiny_model();
    inference = std::make_unique<cxr::server::InferenceService>(served);
    store = std::make_unique<cxr::server::Store>(dir / "store");
    token = store->create_token_if_missing().value();
    app.inference = inference.get();
    app.store = store.get();
    app.web_root = fs::path(CXR_SOURCE_DIR) / "web";
    app.openapi = fs::path(CXR_SOURCE_DIR) / "docs" / "openapi.yaml";
  }
  ~Fixture() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

std::string with_token(std::string_view input, const std::string& token) {
  std::string out(input);
  constexpr std::string_view placeholder = "@token@";
  for (auto at = out.find(placeholder); at != std::string::npos; at = out.find(placeholder, at + token.size()))
    out.replace(at, placeholder.size(), token);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Fixture& f = fixture();
  const std::string stream = with_token(cxr::fuzz::text(data, size), f.token);
  if (stream.empty()) return 0;
  boost::beast::flat_buffer buffer;
  auto in = buffer.prepare(stream.size());
  std::memcpy(in.data(), stream.data(), stream.size());
  buffer.commit(stream.size());
  for (int requests = 0; requests < 8 && buffer.size() > 0; ++requests) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(cxr::server::kBodyLimit);
    parser.eager(true);
    boost::beast::error_code ec;
    while (!parser.is_done()) {
      const std::size_t used = parser.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec == http::error::need_more && used > 0 && buffer.size() > 0) {
        ec = {};
        continue;
      }
      if (ec == http::error::need_more || (!ec && used == 0)) parser.put_eof(ec);  // the stream ends here
      break;
    }
    if (!parser.is_done()) return 0;
    const cxr::server::Request req = parser.release();
    cxr::server::Reply reply = cxr::server::handle(f.app, req);
    http::response_serializer<http::string_body> serializer(reply.response);
    boost::beast::error_code write_ec;
    std::size_t written = 0;
    do {
      serializer.next(write_ec, [&](boost::beast::error_code&, const auto& buffers) {
        written += boost::asio::buffer_size(buffers);
        serializer.consume(boost::asio::buffer_size(buffers));
      });
    } while (!write_ec && !serializer.is_done());
    if (written == 0) __builtin_trap();
    if (!req.keep_alive()) break;
  }
  return 0;
}
