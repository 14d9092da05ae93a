// What a hostile web page or client meets: the Host allow-list against DNS
// rebinding, samples readable only with the token, the security headers on every
// response, and the small protocol points (Allow on 405, HEAD errors without a
// body, a case-insensitive bearer scheme, 500s without server paths).
#include "server_harness.h"

#include "server/access_log.h"
#include "server/api.h"
#include "server/host_check.h"
#include "server/inference.h"
#include "server/server.h"
#include "server/store.h"

#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace cxr;
using namespace cxr::test;
using cxr::server::App;
using http::verb;

namespace {

// Sends `raw` as written and returns the whole answer (the server closes after it).
std::string raw_exchange(unsigned short port, const std::string& raw) {
  namespace asio = boost::asio;
  asio::io_context ioc;
  asio::ip::tcp::socket socket(ioc);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  asio::write(socket, asio::buffer(raw));
  std::string answer;
  boost::system::error_code ec;
  asio::read(socket, asio::dynamic_buffer(answer), ec);
  return answer;
}

class ServerSecurity : public ::testing::Test {
 protected:
  void SetUp() override {
    auto served = std::make_shared<server::ServedModel>();
    served->version = "test";
    served->model = tiny_model();
    inference_ = std::make_unique<server::InferenceService>(served);
    dir_ = std::filesystem::temp_directory_path() /
           ("cxr_server_security_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    store_ = std::make_unique<server::Store>(dir_ / "store");
    token_ = *store_->create_token_if_missing();
    app_.inference = inference_.get();
    app_.store = store_.get();
    const std::filesystem::path source = std::getenv("CXR_SOURCE_DIR") ? std::getenv("CXR_SOURCE_DIR") : ".";
    app_.web_root = source / "web";
    app_.openapi = source / "docs" / "openapi.yaml";
    server::ServerOptions options;
    options.port = 0;
    server_ = std::make_unique<server::Server>(app_, options);
    server_->start();
    port_ = server_->port();
  }
  void TearDown() override {
    server_->stop();
    server_.reset();
    store_.reset();
    inference_.reset();
    std::filesystem::remove_all(dir_);
  }

  HttpResult get(const std::string& target, const std::map<std::string, std::string>& headers = {}) {
    return request(port_, verb::get, target, "", "", headers);
  }

  App app_;
  std::filesystem::path dir_;
  std::unique_ptr<server::InferenceService> inference_;
  std::unique_ptr<server::Store> store_;
  std::string token_;
  std::unique_ptr<server::Server> server_;
  unsigned short port_ = 0;
};

TEST(HostCheck, ParsesNamesAndPorts) {
  EXPECT_EQ(server::host_name("localhost"), "localhost");
  EXPECT_EQ(server::host_name("LocalHost:8080"), "localhost");
  EXPECT_EQ(server::host_name("[::1]:8080"), "[::1]");
  EXPECT_EQ(server::host_name("[::1]"), "[::1]");
  EXPECT_FALSE(server::host_name(""));
  EXPECT_FALSE(server::host_name(":80"));
  EXPECT_FALSE(server::host_name("localhost:80x"));
  EXPECT_FALSE(server::host_name("[::1"));
  EXPECT_FALSE(server::host_name("[::1]x"));
}

TEST_F(ServerSecurity, OnlyKnownHostNamesAreAnswered) {
  for (const char* host : {"127.0.0.1", "localhost", "LOCALHOST:8080", "[::1]", "[::1]:1234", "127.0.0.1:99"})
    EXPECT_EQ(get("/api/v1/health", {{"Host", host}}).status, 200u) << host;
  for (const char* host : {"evil.example", "evil.example:8080", "127.0.0.1.evil.example", "localhost:x"}) {
    const auto r = get("/api/v1/health", {{"Host", host}});
    EXPECT_EQ(r.status, 421u) << host;
    EXPECT_EQ(r.error_code(), "host_not_allowed") << host;
    EXPECT_EQ(get("/index.html", {{"Host", host}}).status, 421u) << host;
  }
  app_.allowed_hosts.push_back("xray.lan");
  EXPECT_EQ(get("/api/v1/health", {{"Host", "xray.lan:8080"}}).status, 200u);
}

TEST_F(ServerSecurity, Http11WithoutHostIsRefused) {
  const std::string no_host = raw_exchange(port_, "GET /api/v1/health HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(no_host.substr(0, 12), "HTTP/1.1 400") << no_host;
  EXPECT_NE(no_host.find("missing_host"), std::string::npos) << no_host;
  const std::string http10 = raw_exchange(port_, "GET /api/v1/health HTTP/1.0\r\n\r\n");
  EXPECT_EQ(http10.substr(0, 12), "HTTP/1.0 200") << http10;
}

TEST_F(ServerSecurity, SamplesAreReadOnlyWithTheToken) {
  const auto png = png_bytes(64, 64, 1);
  const auto added = request(port_, verb::post, "/api/v1/samples?label=covid", png, "image/png",
                             {{"Authorization", "Bearer " + token_}});
  ASSERT_EQ(added.status, 201u) << added.body;
  const auto id = added.json().at("sample").at("id").as_int64();
  const std::string image = "/api/v1/samples/" + std::to_string(id) + "/image";

  EXPECT_EQ(get("/api/v1/samples").error_code(), "missing_token");
  EXPECT_EQ(get(image).error_code(), "missing_token");
  EXPECT_EQ(get(image, {{"Authorization", "Bearer " + std::string(64, 'a')}}).error_code(), "invalid_token");
  EXPECT_EQ(get("/api/v1/samples", {{"Authorization", "Bearer " + token_}}).status, 200u);
  // The scheme name is case-insensitive.
  EXPECT_EQ(get("/api/v1/samples", {{"Authorization", "bearer " + token_}}).status, 200u);
  const auto listed = get(image, {{"Authorization", "BEARER " + token_}});
  EXPECT_EQ(listed.status, 200u);
  EXPECT_EQ(listed.body, png);
  EXPECT_EQ(get("/api/v1/samples", {{"Authorization", "bearer"}}).error_code(), "invalid_token");
}

TEST_F(ServerSecurity, EveryResponseCarriesTheSecurityHeaders) {
  const std::vector<HttpResult> answers{get("/"), get("/api/v1/health"), get("/api/v1/nothing"),
                                        get("/api/v1/health", {{"Host", "evil.example"}}),
                                        request(port_, verb::post, "/api/v1/predict", "x", "image/png")};
  for (const auto& r : answers) {
    EXPECT_EQ(r.headers.at("X-Content-Type-Options"), "nosniff") << r.status;
    EXPECT_EQ(r.headers.at("X-Frame-Options"), "DENY") << r.status;
    EXPECT_EQ(r.headers.at("Referrer-Policy"), "no-referrer") << r.status;
    const std::string csp = r.headers.at("Content-Security-Policy");
    EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("img-src 'self' data: blob:"), std::string::npos) << csp;
  }
}

TEST_F(ServerSecurity, MethodNotAllowedNamesTheAllowedMethods) {
  EXPECT_EQ(request(port_, verb::get, "/api/v1/predict").headers.at("Allow"), "POST");
  EXPECT_EQ(request(port_, verb::post, "/api/v1/health").headers.at("Allow"), "GET");
  EXPECT_EQ(request(port_, verb::put, "/api/v1/samples").headers.at("Allow"), "GET, POST");
  EXPECT_EQ(request(port_, verb::get, "/api/v1/samples/3").headers.at("Allow"), "DELETE");
  EXPECT_EQ(request(port_, verb::put, "/api/v1/jobs/3").headers.at("Allow"), "GET, DELETE");
  EXPECT_EQ(request(port_, verb::post, "/index.html").headers.at("Allow"), "GET, HEAD");
}

TEST_F(ServerSecurity, ErrorsToHeadHaveNoBody) {
  for (const char* target : {"/no-such-file.html", "/api/v1/predict"}) {
    const std::string answer = raw_exchange(
        port_, std::string("HEAD ") + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(answer.substr(0, 9), "HTTP/1.1 ") << answer;
    EXPECT_NE(answer.substr(9, 3), "200") << answer;
    EXPECT_EQ(answer.find("\r\n\r\n"), answer.size() - 4) << "a body follows the head: " << answer;
  }
}

TEST_F(ServerSecurity, InternalErrorsDoNotShowServerPaths) {
  // The store cannot create the folder of a new image: a file stands where its folders go.
  std::filesystem::remove_all(dir_ / "store" / "images");
  { std::ofstream(dir_ / "store" / "images") << "in the way"; }
  const auto r = request(port_, verb::post, "/api/v1/samples?label=covid", png_bytes(64, 64, 2), "image/png",
                         {{"Authorization", "Bearer " + token_}});
  EXPECT_EQ(r.status, 500u) << r.body;
  EXPECT_EQ(r.error_code(), "internal_error");
  EXPECT_EQ(r.body.find(dir_.string()), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("/tmp"), std::string::npos) << r.body;
}

TEST_F(ServerSecurity, ParametersWithNulOrTrailingBytesAreRefused) {
  const auto png = png_bytes(64, 64, 3);
  for (const char* query : {"?class=%00", "?class=1%00x", "?class=0%00", "?explain=gradcam%00"}) {
    const auto r = request(port_, verb::post, std::string("/api/v1/predict") + query, png, "image/png");
    EXPECT_EQ(r.status, 400u) << query << " " << r.body;
  }
  EXPECT_EQ(request(port_, verb::post, "/api/v1/predict?class=1", png, "image/png").status, 200u);
  const auto& info = inference_->model()->model.info;
  EXPECT_EQ(server::parse_class(info, "1"), 1);
  for (const std::string& bad : {std::string("1\0x", 3), std::string("\0", 1), std::string("1x"), std::string("")})
    EXPECT_THROW(server::parse_class(info, bad), server::HttpError) << bad;
}

TEST_F(ServerSecurity, ExpectContinueIsAnsweredBeforeTheBody) {
  namespace asio = boost::asio;
  const auto png = png_bytes(64, 64, 4);
  asio::io_context ioc;
  asio::ip::tcp::socket socket(ioc);
  socket.connect({asio::ip::make_address("127.0.0.1"), port_});
  const std::string head =
      "POST /api/v1/predict?explain=none HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
      "Expect: 100-continue\r\nConnection: close\r\nContent-Length: " +
      std::to_string(png.size()) + "\r\n\r\n";
  asio::write(socket, asio::buffer(head));
  std::string interim;
  boost::system::error_code ec;
  const std::size_t n = asio::read_until(socket, asio::dynamic_buffer(interim), "\r\n\r\n", ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(interim.substr(0, n), "HTTP/1.1 100 Continue\r\n\r\n");
  asio::write(socket, asio::buffer(png));
  std::string answer = interim.substr(n);
  asio::read(socket, asio::dynamic_buffer(answer), ec);
  EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 200") << answer;
}

TEST_F(ServerSecurity, AccessLogHasOneLinePerRequestWithoutSecrets) {
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(get("/api/v1/samples?patient_id=secret-patient", {{"Authorization", "Bearer " + token_}}).status, 200u);
  EXPECT_EQ(get("/api/v1/nothing").status, 404u);
  EXPECT_EQ(get("/api/v1/health", {{"Host", "evil.example"}}).status, 421u);
  server_->stop();  // every answer written, every line logged
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("GET /api/v1/samples 200 "), std::string::npos) << log;
  EXPECT_NE(log.find("GET /api/v1/nothing 404 "), std::string::npos) << log;
  EXPECT_NE(log.find("GET /api/v1/health 421 "), std::string::npos) << log;
  EXPECT_NE(log.find("ms\n"), std::string::npos) << log;
  EXPECT_EQ(log.find("secret-patient"), std::string::npos) << log;
  EXPECT_EQ(log.find(token_), std::string::npos) << log;
  EXPECT_EQ(server::loggable_path("/a b\x01?token=x"), "/a?b?");
}

TEST_F(ServerSecurity, OnlyPngAndJpegAreAccepted) {
  const auto px = picture(16, 16, 5);
  std::string bmp;
  stbi_write_bmp_to_func(append_bytes, &bmp, 16, 16, 1, px.data());
  const std::string pgm = "P5\n16 16\n255\n" + std::string(px.begin(), px.end());
  const std::string gif("GIF89a\x10\x00\x10\x00\x00\x00\x00", 13);
  for (const auto& [name, bytes] :
       std::vector<std::pair<std::string, std::string>>{{"bmp", bmp}, {"pgm", pgm}, {"gif", gif}}) {
    const auto predicted = request(port_, verb::post, "/api/v1/predict", bytes, "application/octet-stream");
    EXPECT_EQ(predicted.status, 415u) << name << " " << predicted.body;
    EXPECT_EQ(predicted.error_code(), "unsupported_image_format") << name;
    EXPECT_NE(predicted.body.find("PNG, JPEG"), std::string::npos) << predicted.body;
    const auto added = request(port_, verb::post, "/api/v1/samples?label=covid", bytes, "image/png",
                               {{"Authorization", "Bearer " + token_}});
    EXPECT_EQ(added.status, 415u) << name << " " << added.body;
  }
  // A BMP stored before the limit is served as what it is, not as a JPEG.
  const auto old = store_->add_sample(bmp, "covid", "", "upload", 16, 16);
  const auto served =
      get("/api/v1/samples/" + std::to_string(old.sample.id) + "/image", {{"Authorization", "Bearer " + token_}});
  EXPECT_EQ(served.status, 200u);
  EXPECT_EQ(served.content_type, "application/octet-stream");
  EXPECT_EQ(request(port_, verb::post, "/api/v1/predict?explain=none", png_bytes(64, 64), "image/png").status, 200u);
  EXPECT_EQ(request(port_, verb::post, "/api/v1/predict?explain=none", jpeg_bytes(64, 64), "image/jpeg").status, 200u);
  EXPECT_EQ(request(port_, verb::post, "/api/v1/predict", "no image", "image/png").error_code(), "corrupt_image");
}

}  // namespace
