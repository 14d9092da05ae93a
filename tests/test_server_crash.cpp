// SIGKILL of `cxr serve` while clients upload samples, five times over: after
// each kill the store is consistent (SQLite integrity check; every sample row has
// its image file, whole, its SHA-256 the one recorded; the same for every model
// version) and every upload answered 201 before the kill is there; after the
// restart the version that was active stays active, no temporary file is left and
// the server takes uploads again.
#include "serve_process.h"
#include "server_harness.h"

#include "engine/data/sha256.h"
#include "models/model_file.h"
#include "server/load/load_generator.h"
#include "server/sqlite.h"

#include <atomic>
#include <fstream>
#include <mutex>
#include <set>

using namespace cxr;
using namespace cxr::test;

namespace {

std::string sha256_hex(const std::string& bytes) {
  return data::to_hex(data::sha256(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size())));
}

HttpResult upload(unsigned short port, const std::string& token, const std::string& png) {
  return request(port, http::verb::post, "/api/v1/samples?label=covid", png, "image/png",
                 {{"Authorization", "Bearer " + token}});
}

// Checks the store folder with the server stopped. A killed server may leave
// temporary files (<name>.tmp-<pid>), never registered; the next start removes them.
void expect_consistent(const std::filesystem::path& store, const std::set<std::string>& acknowledged,
                       bool after_restart) {
  server::Database db((store / "cxr.db").string());
  auto check = db.prepare("PRAGMA integrity_check");
  ASSERT_TRUE(check.step());
  EXPECT_EQ(check.text(0), "ok");

  std::set<std::string> stored;
  auto samples = db.prepare("SELECT sha256 FROM samples");
  while (samples.step()) {
    const std::string sha = samples.text(0);
    stored.insert(sha);
    const auto file = store / "images" / sha.substr(0, 2) / sha;
    ASSERT_TRUE(std::filesystem::exists(file)) << "sample row without its image " << file;
    EXPECT_EQ(sha256_hex(read_file(file)), sha) << "a half-written image registered: " << file;
  }
  for (const auto& sha : acknowledged) EXPECT_TRUE(stored.count(sha)) << "an acknowledged upload was lost: " << sha;

  auto models = db.prepare("SELECT file, sha256 FROM models");
  while (models.step()) {
    ASSERT_TRUE(std::filesystem::exists(models.text(0))) << "model row without its file " << models.text(0);
    EXPECT_EQ(sha256_hex(read_file(models.text(0))), models.text(1)) << models.text(0);
  }
  if (!after_restart) return;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(store))
    EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << entry.path();
}

TEST(ServeCrash, KilledDuringUploadsTheStoreStaysConsistent) {
  TempDir dir;
  const auto store = dir / "store";
  std::vector<std::string> models;
  for (std::uint64_t seed : {1, 2}) {
    models.push_back((dir / fmt::format("tiny{}.safetensors", seed)).string());
    LoadedModel m = tiny_model(seed);
    save_model(models.back(), *m.net, m.info);
  }
  std::ofstream(dir / "tiny1.eval.json") << R"({"model": "tiny1.safetensors", "metrics": {"count": 7}})";
  const std::vector<std::string> common{"--store", store.string(), "--port", "0", "--threads", "1"};
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.begin(), common.begin(), common.end());
    return extra;
  };
  // v1 and v2, then a roll-back to v1: the active version is not simply the newest.
  std::string token;
  {
    ServeProcess first(with({"--model", models[0]}), dir / "serve-v1.log");
    token = first.token();
    first.signal(SIGTERM);
    ASSERT_TRUE(WIFEXITED(first.wait()));
  }
  ASSERT_EQ(token.size(), 64u);
  {
    ServeProcess second(with({"--model", models[1]}), dir / "serve-v2.log");
    const auto r = request(second.port(), http::verb::post, "/api/v1/models/v1/activate", "", "",
                           {{"Authorization", "Bearer " + token}});
    ASSERT_EQ(r.status, 200u) << r.body;
    second.signal(SIGTERM);
    ASSERT_TRUE(WIFEXITED(second.wait()));
  }

  std::set<std::string> acknowledged;
  std::mutex mutex;
  for (int round = 0; round < 5; ++round) {
    ServeProcess serve(common, dir / fmt::format("serve-round{}.log", round));
    std::atomic<bool> stop{false};
    std::atomic<int> added{0};
    std::vector<std::thread> uploaders;
    for (int t = 0; t < 4; ++t)
      uploaders.emplace_back([&, t] {
        for (int i = 0; !stop; ++i) {
          // Different pixels every time: each upload is a new sample, never a duplicate.
          const std::string png = load::synthetic_xray_png(400, 360, 1000000 * round + 1000 * t + i);
          try {
            const HttpResult r = upload(serve.port(), token, png);
            if (r.status != 201) return;
            std::lock_guard lock(mutex);
            acknowledged.insert(sha256_hex(png));
            ++added;
          } catch (const std::exception&) {
            return;  // the server is gone
          }
        }
      });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (added < 4 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_GE(added, 4) << serve.output();
    serve.signal(SIGKILL);  // four uploads are on their way at any moment
    const int status = serve.wait();
    stop = true;
    for (auto& t : uploaders) t.join();
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    expect_consistent(store, acknowledged, false);
  }

  ServeProcess serve(common, dir / "serve-after.log");
  const json::value model = request(serve.port(), http::verb::get, "/api/v1/model").json();
  EXPECT_EQ(model.at("version").as_string(), "v1");
  // v1 was registered with the metrics of the evaluation beside its file, and they survived.
  EXPECT_EQ(model.at("metrics").at("count").to_number<std::int64_t>(), 7) << json::serialize(model);
  const json::value listed = request(serve.port(), http::verb::get, "/api/v1/samples?per_page=500", "", "",
                                     {{"Authorization", "Bearer " + token}})
                                 .json();
  EXPECT_GE(listed.at("total").as_int64(), static_cast<std::int64_t>(acknowledged.size()));
  const std::string png = load::synthetic_xray_png(400, 360, 424242);
  EXPECT_EQ(upload(serve.port(), token, png).status, 201u);
  acknowledged.insert(sha256_hex(png));
  serve.signal(SIGTERM);
  const int status = serve.wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << serve.output();
  expect_consistent(store, acknowledged, true);
}

}  // namespace
