// The bounded memory test of issue 14: sixteen worst-case uploads at once keep
// `cxr serve` under a stated peak RSS, and health stays fast meanwhile. The server
// runs as a child process, so its peak RSS (VmHWM of /proc/<pid>/status) is its own.
// Also the decode gate (server/decode_gate.h) on its own.
#include "png_bombs.h"
#include "serve_process.h"
#include "server_harness.h"

#include "server/decode_gate.h"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <thread>

using namespace cxr;
using namespace cxr::test;

namespace {

// Peak resident memory of a live process, in bytes.
std::int64_t peak_rss(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // "VmHWM:  123456 kB"
  throw std::runtime_error("no VmHWM for pid " + std::to_string(pid));
}

// Under ASan or TSan (scripts/sanitize) the server's RSS is mostly the sanitizer's:
// shadow memory and ASan's quarantine of freed blocks (256 MB by default). The peak is
// then printed, not checked; statuses and health are checked as always.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

TEST(DecodeGate, AThirdDecodeWaitsThenGetsBusy) {
  server::DecodeGate gate(2, std::chrono::milliseconds(50));
  auto a = gate.enter();
  auto b = gate.enter();
  EXPECT_EQ(gate.busy(), 2);
  try {
    gate.enter();
    FAIL() << "a third slot was granted";
  } catch (const server::ServiceBusy& e) {
    EXPECT_EQ(e.status(), server::http::status::service_unavailable);
    EXPECT_EQ(e.code(), "service_busy");
    EXPECT_EQ(e.retry_after_seconds(), 1);
  }
}

TEST(DecodeGate, AWaiterGetsTheSlotThatFrees) {
  server::DecodeGate gate(1, std::chrono::seconds(30));
  std::optional<server::DecodeGate::Permit> held(gate.enter());
  std::atomic<bool> entered{false};
  std::thread waiter([&] {
    auto permit = gate.enter();
    entered = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(entered);
  held.reset();
  waiter.join();
  EXPECT_TRUE(entered);
  EXPECT_EQ(gate.busy(), 0);
}

// Eight 16-bit RGBA PNGs declaring 8192 x 8192 (512 MiB decoded each; before the
// budget, 1.1 GB per request) and eight 8-bit grey 8000 x 8000 PNGs (61 MiB, within
// the budget, ~2 s of decoding each), all sent at once while health is probed.
TEST(ServeMemory, SixteenWorstCaseUploadsStayBounded) {
  TempDir dir;
  const auto model = (dir / "tiny.safetensors").string();
  {
    LoadedModel m = tiny_model(1);
    save_model(model, *m.net, m.info);
  }
  const std::string bomb = zero_png(8192, 8192, 16, 6);
  const std::string big = zero_png(8000, 8000, 8, 0);
  ServeProcess serve({"--model", model, "--store", (dir / "store").string(), "--port", "0", "--threads", "2"},
                     dir / "serve.log");
  const auto port = serve.port();
  ASSERT_EQ(request(port, http::verb::get, "/api/v1/health").status, 200u);
  const std::int64_t baseline = peak_rss(serve.pid());

  std::atomic<bool> uploading{true};
  std::vector<double> health_ms;
  std::thread prober([&] {
    while (uploading) {
      const auto start = std::chrono::steady_clock::now();
      const auto r = request(port, http::verb::get, "/api/v1/health");
      health_ms.push_back(ms_since(start));
      EXPECT_EQ(r.status, 200u);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  std::vector<HttpResult> results(16);
  std::vector<std::thread> uploaders;
  for (int i = 0; i < 16; ++i)
    uploaders.emplace_back([&, i] {
      results[i] = request(port, http::verb::post, "/api/v1/predict?explain=none", i % 2 ? big : bomb, "image/png");
    });
  for (auto& t : uploaders) t.join();
  uploading = false;
  prober.join();
  const std::int64_t peak = peak_rss(serve.pid());

  int decoded = 0;
  for (int i = 0; i < 16; ++i) {
    const HttpResult& r = results[i];
    if (i % 2 == 0) {
      ASSERT_EQ(r.status, 413u) << r.body;
      EXPECT_EQ(r.error_code(), "image_too_large");
      EXPECT_NE(r.body.find("decode budget of 67108864 bytes (64 MiB)"), std::string::npos) << r.body;
    } else if (r.status == 503u) {  // waited longer than kDecodeWait for a slot
      EXPECT_EQ(r.error_code(), "service_busy");
      EXPECT_EQ(r.headers.count("Retry-After"), 1u);
    } else {
      ASSERT_EQ(r.status, 200u) << r.body;
      EXPECT_EQ(r.json().at("image").at("width").as_int64(), 8000);
      ++decoded;
    }
  }
  EXPECT_GE(decoded, 2);  // the first two get the slots at once

  // The bound: the server's own baseline plus the two decode slots at ~3 x the 64 MiB
  // budget each (stb_image's inflated stream, unfiltered image and grey copy), plus
  // the sixteen request bodies (~5 MB): about 400 MB over the baseline, stated here
  // as 512 MiB. Without the budget and the gate the issue measured 6.3 GB for sixteen
  // 8000 x 8000 uploads and 1.1 GB per 16-bit bomb.
  const std::int64_t bound = baseline + (std::int64_t{512} << 20);
  if (!kSanitized) {
    EXPECT_LT(peak, bound) << "peak RSS " << (peak >> 20) << " MiB, baseline " << (baseline >> 20) << " MiB";
  }
  std::printf("peak RSS %lld MiB (baseline %lld MiB), %d of 8 big images decoded\n", static_cast<long long>(peak >> 20),
              static_cast<long long>(baseline >> 20), decoded);

  // Health: the median under 100 ms, every probe under 1 s. Health has threads of its
  // own (server/quick_requests.h), so it never waits behind a decode (before, it took
  // 12.8 s); but this machine may be shared and both its cores busy decoding, so a
  // single probe may lose its time slice for a while: the median states the goal,
  // the maximum shows that no probe queued behind a 2 s decode.
  ASSERT_FALSE(health_ms.empty());
  std::sort(health_ms.begin(), health_ms.end());
  const double median = health_ms[health_ms.size() / 2];
  std::printf("health: %zu probes, median %.1f ms, max %.1f ms\n", health_ms.size(), median, health_ms.back());
  EXPECT_LT(median, 100.0);
  EXPECT_LT(health_ms.back(), 1000.0);
}
