// `cxr serve` as a real process and SIGTERM / SIGINT: an upload whose header has
// arrived is finished and answered, new connections are refused, an idle
// keep-alive connection does not hold the exit up, and the process exits with
// status 0 having closed its store (SQLite removes the WAL file on the last close).
#include "serve_process.h"
#include "server_harness.h"

#include "models/model_file.h"
#include "server/load/load_generator.h"

#include <boost/asio/write.hpp>

using namespace cxr;
using namespace cxr::test;

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

bool can_connect(asio::io_context& ioc, unsigned short port) {
  tcp::socket s(ioc);
  boost::system::error_code ec;
  s.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  return !ec;
}

class ServeShutdown : public ::testing::TestWithParam<int> {};

TEST_P(ServeShutdown, FinishesTheUploadInFlightThenExitsCleanly) {
  const int sig = GetParam();
  TempDir dir;
  const auto model = dir / "tiny.safetensors";
  {
    LoadedModel m = tiny_model();
    save_model(model.string(), *m.net, m.info);
  }
  const auto store = dir / "store";
  ServeProcess serve({"--store", store.string(), "--port", "0", "--model", model.string(), "--threads", "1"},
                     dir / "serve.log");
  ASSERT_TRUE(std::filesystem::exists(store / "cxr.db-wal"));  // open: SQLite in WAL mode

  asio::io_context ioc;
  tcp::socket idle(ioc), upload(ioc);
  idle.connect({asio::ip::make_address("127.0.0.1"), serve.port()});  // keep-alive, never sends
  upload.connect({asio::ip::make_address("127.0.0.1"), serve.port()});
  const std::string png = load::synthetic_xray_png(300, 260, 1);
  const std::string head = fmt::format(
      "POST /api/v1/predict?explain=gradcam HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
      "Content-Length: {}\r\n\r\n",
      png.size());
  const std::size_t half = png.size() / 2;
  asio::write(upload, asio::buffer(head + png.substr(0, half)));
  // The server must have read the header before the signal; it reads within
  // microseconds, a second leaves room for a busy machine.
  std::this_thread::sleep_for(std::chrono::seconds(1));

  serve.signal(sig);
  // Draining: the listener closes while the upload is still unfinished.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (can_connect(ioc, serve.port()) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(can_connect(ioc, serve.port())) << "still accepting after the signal";

  asio::write(upload, asio::buffer(png.substr(half)));
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  boost::beast::error_code ec;
  http::read(upload, buffer, res, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(res.result_int(), 200u) << res.body();
  EXPECT_EQ(load::check_prediction(res.body(), true, tiny_classes()), "");
  EXPECT_FALSE(res.keep_alive());  // the last answer closes the connection

  // Well before the 30 s read timeout: the idle connection is not waited for.
  const int status = serve.wait(std::chrono::seconds(20));
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WEXITSTATUS(status), 0) << serve.output();
  EXPECT_NE(serve.output().find("cxr serve: stopped"), std::string::npos) << serve.output();
  EXPECT_FALSE(std::filesystem::exists(store / "cxr.db-wal")) << "the store was not closed";
}

INSTANTIATE_TEST_SUITE_P(Signals, ServeShutdown, ::testing::Values(SIGTERM, SIGINT),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return info.param == SIGTERM ? std::string("SIGTERM") : std::string("SIGINT");
                         });

}  // namespace
