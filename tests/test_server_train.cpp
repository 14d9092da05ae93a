// Fine-tuning through the HTTP API (server/jobs.h, server/api_train.cpp) over real
// loopback connections, with a tiny 4-class model and synthetic stripes images so
// that a job takes about a second: a job on the added samples ends with a new
// version and before/after metrics; its Server-Sent Events arrive in order; one
// job at a time; cancellation; token and input checks; activation and rollback;
// a restart keeps everything; predictions keep answering while a job trains; and
// `cxr serve` killed with SIGKILL mid-job restarts on a consistent store.
#include "data_fixtures.h"
#include "finetune_fixtures.h"
#include "serve_process.h"
#include "server_harness.h"

#include "server/inference.h"
#include "server/jobs.h"
#include "server/server.h"
#include "server/sqlite.h"
#include "server/store.h"

#include <fmt/format.h>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <future>
#include <set>
#include <sstream>
#include <thread>

using namespace cxr;
using namespace cxr::test;
using http::verb;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kSize = 32;  // model input and dataset image side

std::map<std::string, std::string> bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

std::string stripes_png(int label, std::uint64_t seed) {
  Generator gen(seed);
  const auto px = stripes(kSize, label, gen);
  std::string out;
  stbi_write_png_to_func(append_bytes, &out, kSize, kSize, 1, px.data(), kSize);
  return out;
}

// Patient ids whose samples fall in `split` (server/store.h sample_split).
std::vector<std::string> patients_in(const std::string& split, int n) {
  std::vector<std::string> out;
  for (int k = 0; static_cast<int>(out.size()) < n; ++k)
    if (server::sample_split(fmt::format("p{}", k), "") == split) out.push_back(fmt::format("p{}", k));
  return out;
}

// A server over a store folder with fine-tuning, as `cxr serve` builds it.
struct Served {
  Served(const std::filesystem::path& dir, const std::string& model_file, const std::string& base_data = "")
      : store(dir) {
    token = store.create_token_if_missing();
    if (!store.active_model()) store.set_active(store.add_model(model_file, "", "{}").id);
    inference = std::make_unique<server::InferenceService>(server::load_served_model(*store.active_model()));
    app.inference = inference.get();
    app.store = &store;
    server::JobsOptions o;
    o.base_data = base_data;
    jobs = std::make_unique<server::Jobs>(app, o);
    app.jobs = jobs.get();
    server::ServerOptions options;
    options.port = 0;
    server = std::make_unique<server::Server>(app, options);
    server->start();
    port = server->port();
  }
  ~Served() { server->stop(); }

  server::Store store;
  std::optional<std::string> token;
  std::unique_ptr<server::InferenceService> inference;
  server::App app;
  std::unique_ptr<server::Jobs> jobs;
  std::unique_ptr<server::Server> server;
  unsigned short port = 0;
};

HttpResult post_train(unsigned short port, const std::string& token, const std::string& body) {
  return request(port, verb::post, "/api/v1/train", body, "application/json", bearer(token));
}

json::object get_job(unsigned short port, const std::string& token, std::int64_t id) {
  const auto r = request(port, verb::get, fmt::format("/api/v1/jobs/{}", id), "", "", bearer(token));
  EXPECT_EQ(r.status, 200u) << r.body;
  return r.json().at("job").as_object();
}

json::object wait_for_end(unsigned short port, const std::string& token, std::int64_t id,
                          std::chrono::seconds limit = std::chrono::seconds(60)) {
  const auto deadline = Clock::now() + limit;
  for (;;) {
    json::object job = get_job(port, token, id);
    const std::string state(job.at("state").as_string());
    if (state != "queued" && state != "running") return job;
    if (Clock::now() > deadline) {
      ADD_FAILURE() << "job " << id << " still " << state << " after " << limit.count() << " s";
      return job;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Waits until the job reports training progress (it is in its first epochs).
void wait_for_progress(unsigned short port, const std::string& token, std::int64_t id) {
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (!get_job(port, token, id).contains("progress")) {
    ASSERT_LT(Clock::now(), deadline) << "job " << id << " never made progress";
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

struct SseEvent {
  std::string name;
  json::value data;
};

struct SseStream {
  std::string head;
  std::vector<SseEvent> events;
  int comments = 0;
  bool ended = false;  // the server closed the stream (else the time limit stopped reading)
};

// Reads a text/event-stream response until the server closes it or `limit` passes.
SseStream read_events(unsigned short port, const std::string& token, const std::string& target,
                      std::chrono::seconds limit) {
  namespace asio = boost::asio;
  asio::io_context ioc;
  asio::ip::tcp::socket socket(ioc);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  const std::string get = fmt::format(
      "GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
      "Authorization: Bearer {}\r\n\r\n",
      target, token);
  asio::write(socket, asio::buffer(get));
  std::string data;
  std::array<char, 4096> buffer{};
  SseStream out;
  std::function<void(boost::system::error_code, std::size_t)> on_read = [&](boost::system::error_code ec,
                                                                            std::size_t n) {
    data.append(buffer.data(), n);
    if (ec) {
      out.ended = true;
      return;
    }
    socket.async_read_some(asio::buffer(buffer), on_read);
  };
  socket.async_read_some(asio::buffer(buffer), on_read);
  ioc.run_for(limit);
  const auto split = data.find("\r\n\r\n");
  if (split == std::string::npos) return out;
  out.head = data.substr(0, split);
  std::string body = data.substr(split + 4);
  std::size_t pos = 0;
  for (std::size_t end; (end = body.find("\n\n", pos)) != std::string::npos; pos = end + 2) {
    SseEvent e;
    std::istringstream block(body.substr(pos, end - pos));
    for (std::string line; std::getline(block, line);) {
      if (line.rfind(":", 0) == 0) ++out.comments;
      if (line.rfind("event: ", 0) == 0) e.name = line.substr(7);
      if (line.rfind("data: ", 0) == 0) e.data = json::parse(line.substr(6));
    }
    if (!e.name.empty()) out.events.push_back(std::move(e));
  }
  return out;
}

class ServerTrain : public ::testing::Test {
 protected:
  void SetUp() override {
    LoadedModel m = tiny_four_class_model(kSize, 3);
    model_file_ = (dir_ / "tiny.safetensors").string();
    save_model(model_file_, *m.net, m.info);
  }

  // Samples of all four labels: `per_split` patients in each split, one image per
  // label each; ids of the images vary the stripes.
  void add_samples(unsigned short port, const std::string& token, int per_split) {
    int image = 0;
    for (const char* split : {"train", "val", "test"})
      for (const auto& patient : patients_in(split, per_split))
        for (int label = 0; label < 4; ++label) {
          const auto r =
              request(port, verb::post,
                      fmt::format("/api/v1/samples?label={}&patient_id={}", data::class_names(4)[label], patient),
                      stripes_png(label, 1000 + image++), "image/png", bearer(token));
          ASSERT_EQ(r.status, 201u) << r.body;
          EXPECT_EQ(r.json().at("sample").at("split").as_string(), split);
        }
  }

  void write_base(int train) { write_stripes_dataset(dir_ / "base", kSize, {train, 64, 32}, 7); }

  TempDir dir_;
  std::string model_file_;
};

// On the base dataset and the samples; long enough (about 2 s) for the stream to
// see the job live.
TEST_F(ServerTrain, JobEndsWithANewVersionAndBeforeAfterMetricsStreamedInOrder) {
  write_base(2000);
  Served s(dir_ / "store", model_file_, (dir_ / "base").string());
  add_samples(s.port, *s.token, 4);  // 4 patients per split x 4 labels: 16 images in each split
  const auto start = Clock::now();
  const auto r = post_train(s.port, *s.token, R"({"epochs": 3, "learning_rate": 0.01, "unfreeze": "all"})");
  ASSERT_EQ(r.status, 202u) << r.body;
  const std::int64_t id = r.json().at("job").at("id").as_int64();
  EXPECT_EQ(r.headers.at("Location"), fmt::format("/api/v1/jobs/{}", id));
  EXPECT_EQ(r.json().at("job").at("params").at("unfreeze").as_string(), "all");

  const SseStream stream =
      read_events(s.port, *s.token, fmt::format("/api/v1/jobs/{}/events", id), std::chrono::seconds(60));
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ASSERT_TRUE(stream.ended) << "the stream did not end after the job";
  EXPECT_NE(stream.head.find("200 OK"), std::string::npos) << stream.head;
  EXPECT_NE(stream.head.find("text/event-stream"), std::string::npos) << stream.head;
  ASSERT_GE(stream.events.size(), 5u);
  EXPECT_EQ(stream.events.front().name, "state");
  EXPECT_EQ(stream.events.back().name, "done");
  // Progress of epoch e comes after the validation of epochs before it and before its own.
  int epochs_seen = 0, progress = 0;
  for (std::size_t i = 1; i + 1 < stream.events.size(); ++i) {
    const auto& e = stream.events[i];
    if (e.name == "progress") {
      ++progress;
      EXPECT_EQ(e.data.at("epoch").as_int64(), epochs_seen + 1) << "progress after " << epochs_seen << " epochs";
      EXPECT_LE(e.data.at("batch").as_int64(), e.data.at("batches").as_int64());
      EXPECT_GT(e.data.at("images_per_second").as_double(), 0.0);
    } else {
      ASSERT_EQ(e.name, "epoch");
      EXPECT_EQ(e.data.at("epoch").as_int64(), ++epochs_seen);
      EXPECT_EQ(e.data.at("val_f1").as_array().size(), 4u);
    }
  }
  EXPECT_EQ(epochs_seen, 3);
  EXPECT_GE(progress, 1);
  std::printf(
      "[ measured ] fine-tune job, all layers, 3 epochs on 2016 train / 80 val images, before/after on 48 "
      "test images: %.2f s from POST to done\n",
      seconds);

  const json::object job = get_job(s.port, *s.token, id);
  EXPECT_EQ(job.at("state").as_string(), "succeeded");
  EXPECT_EQ(job.at("model").as_string(), "v2");
  EXPECT_EQ(job.at("parent").as_string(), "v1");
  EXPECT_EQ(job.at("history").as_array().size(), 3u);
  EXPECT_EQ(job.at("data").at("train").as_int64(), 2000 + 16);
  EXPECT_EQ(job.at("data").at("val").as_int64(), 64 + 16);
  EXPECT_EQ(job.at("data").at("test").as_int64(), 32 + 16);
  EXPECT_EQ(job.at("data").at("samples").at("test").as_int64(), 16);
  for (const char* key : {"before", "after"}) {
    const auto& m = job.at(key).as_object();
    EXPECT_EQ(m.at("count").as_int64(), 48) << key;
    EXPECT_EQ(m.at("confusion_matrix").as_array().size(), 4u) << key;
    EXPECT_EQ(m.at("classes").as_array().size(), 4u) << key;
    EXPECT_TRUE(m.at("macro").at("f1").is_number()) << key;
  }
  EXPECT_EQ(job, stream.events.back().data.as_object());

  const auto models = request(s.port, verb::get, "/api/v1/models", "", "", bearer(*s.token)).json();
  ASSERT_EQ(models.at("models").as_array().size(), 2u);
  const auto& v2 = models.at("models").as_array()[1];
  EXPECT_EQ(v2.at("id").as_string(), "v2");
  EXPECT_EQ(v2.at("parent").as_string(), "v1");
  EXPECT_FALSE(v2.at("active").as_bool());  // activate was not asked for
  EXPECT_EQ(v2.at("metrics").at("accuracy"), job.at("after").at("accuracy"));
  EXPECT_EQ(v2.at("metrics").at("baseline").at("report"), job.at("before"));
  EXPECT_EQ(models.at("active").as_string(), "v1");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "store" / "jobs" / std::to_string(id)));

  // A late subscriber gets the finished job, then its final event, and the stream ends.
  const SseStream late =
      read_events(s.port, *s.token, fmt::format("/api/v1/jobs/{}/events", id), std::chrono::seconds(10));
  ASSERT_TRUE(late.ended);
  ASSERT_EQ(late.events.size(), 2u);
  EXPECT_EQ(late.events[0].name, "state");
  EXPECT_EQ(late.events[0].data.at("state").as_string(), "succeeded");
  EXPECT_EQ(late.events[1].name, "done");

  const auto list = request(s.port, verb::get, "/api/v1/jobs", "", "", bearer(*s.token)).json();
  ASSERT_EQ(list.at("jobs").as_array().size(), 1u);
  EXPECT_EQ(list.at("jobs").as_array()[0].at("state").as_string(), "succeeded");
}

TEST_F(ServerTrain, TokenAndBadRequestsGetJsonErrors) {
  Served s(dir_ / "store", model_file_);
  const std::string good = R"({"epochs": 1, "learning_rate": 0.001, "unfreeze": "head"})";
  auto expect = [](const HttpResult& r, unsigned status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.content_type, "application/json") << r.body;
    EXPECT_EQ(r.error_code(), code) << r.body;
  };
  expect(request(s.port, verb::post, "/api/v1/train", good, "application/json"), 401, "missing_token");
  expect(post_train(s.port, std::string(64, 'f'), good), 401, "invalid_token");
  expect(post_train(s.port, *s.token, "{\"epochs\": 1,"), 400, "malformed_json");
  expect(post_train(s.port, *s.token, ""), 400, "malformed_json");
  expect(post_train(s.port, *s.token, "[1, 2]"), 400, "malformed_json");
  for (const char* body :
       {R"({"epochs": 0, "learning_rate": 0.001, "unfreeze": "head"})",
        R"({"epochs": 51, "learning_rate": 0.001, "unfreeze": "head"})",
        R"({"epochs": 2.5, "learning_rate": 0.001, "unfreeze": "head"})",
        R"({"epochs": "3", "learning_rate": 0.001, "unfreeze": "head"})",
        R"({"epochs": -1, "learning_rate": 0.001, "unfreeze": "head"})",
        R"({"epochs": 18446744073709551615, "learning_rate": 0.001, "unfreeze": "head"})",
        R"({"epochs": 1, "learning_rate": 0, "unfreeze": "head"})",
        R"({"epochs": 1, "learning_rate": -0.01, "unfreeze": "head"})",
        R"({"epochs": 1, "learning_rate": 0.2, "unfreeze": "head"})",
        R"({"epochs": 1, "learning_rate": "fast", "unfreeze": "head"})",
        R"({"epochs": 1, "learning_rate": 0.001, "unfreeze": "last"})",
        R"({"epochs": 1, "learning_rate": 0.001, "unfreeze": 3})", R"({"epochs": 1, "learning_rate": 0.001})",
        R"({"epochs": 1, "learning_rate": 0.001, "unfreeze": "head", "batch": 0})",
        R"({"epochs": 1, "learning_rate": 0.001, "unfreeze": "head", "activate": "yes"})",
        R"({"epochs": 1, "learning_rate": 0.001, "unfreeze": "head", "epoch": 2})"})
    expect(post_train(s.port, *s.token, body), 400, "bad_parameter");
  expect(request(s.port, verb::post, "/api/v1/train", good, "text/plain", bearer(*s.token)), 415,
         "unsupported_media_type");
  expect(request(s.port, verb::put, "/api/v1/train", good, "application/json", bearer(*s.token)), 405,
         "method_not_allowed");
  const auto token = bearer(*s.token);
  expect(request(s.port, verb::get, "/api/v1/jobs/abc", "", "", token), 404, "not_found");
  expect(request(s.port, verb::get, "/api/v1/jobs/7", "", "", token), 404, "not_found");
  expect(request(s.port, verb::get, "/api/v1/jobs/7/events", "", "", token), 404, "not_found");
  expect(request(s.port, verb::get, "/api/v1/jobs?limit=0", "", "", token), 400, "bad_parameter");
  expect(request(s.port, verb::delete_, "/api/v1/jobs/7", "", "", bearer(*s.token)), 404, "not_found");
  expect(request(s.port, verb::post, "/api/v1/jobs/7"), 405, "method_not_allowed");

  // Well-formed, but the data cannot support a job.
  expect(post_train(s.port, *s.token, good), 409, "not_enough_samples");
  const auto val = patients_in("val", 1)[0];
  for (int label = 0; label < 2; ++label)
    ASSERT_EQ(request(s.port, verb::post,
                      fmt::format("/api/v1/samples?label={}&patient_id={}", data::class_names(4)[label], val),
                      stripes_png(label, 50 + label), "image/png", bearer(*s.token))
                  .status,
              201u);
  const auto no_train = post_train(s.port, *s.token, good);
  expect(no_train, 409, "not_enough_samples");
  EXPECT_NE(no_train.json().at("error").at("message").as_string().find("0 training label"), std::string::npos)
      << no_train.body;
  EXPECT_EQ(request(s.port, verb::get, "/api/v1/jobs", "", "", bearer(*s.token)).json().at("jobs").as_array().size(),
            0u);
  EXPECT_EQ(request(s.port, verb::get, "/api/v1/health").status, 200u);
}

// One job at a time; a cancelled job registers nothing; predictions keep answering
// (and an event stream stays open) while a job trains on a base dataset.
TEST_F(ServerTrain, OneJobAtATimeCancellationAndPredictionsWhileTraining) {
  write_base(2000);
  Served s(dir_ / "store", model_file_, (dir_ / "base").string());
  const std::string png = stripes_png(1, 77);
  auto predict_ms = [&] {
    const auto t = Clock::now();
    const auto r = request(s.port, verb::post, "/api/v1/predict", png, "image/png");
    EXPECT_EQ(r.status, 200u) << r.body;
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
  };
  std::vector<double> idle;
  for (int i = 0; i < 10; ++i) idle.push_back(predict_ms());

  const auto r = post_train(s.port, *s.token, R"({"epochs": 50, "learning_rate": 0.001, "unfreeze": "last_block"})");
  ASSERT_EQ(r.status, 202u) << r.body;
  const std::int64_t id = r.json().at("job").at("id").as_int64();
  const auto second = post_train(s.port, *s.token, R"({"epochs": 1, "learning_rate": 0.001, "unfreeze": "head"})");
  EXPECT_EQ(second.status, 409u) << second.body;
  EXPECT_EQ(second.error_code(), "job_running");
  wait_for_progress(s.port, *s.token, id);

  auto stream = std::async(std::launch::async, [&] {
    return read_events(s.port, *s.token, fmt::format("/api/v1/jobs/{}/events", id), std::chrono::seconds(60));
  });
  std::vector<std::future<std::vector<double>>> clients;
  for (int c = 0; c < 4; ++c)
    clients.push_back(std::async(std::launch::async, [&] {
      std::vector<double> ms;
      for (int i = 0; i < 10; ++i) ms.push_back(predict_ms());
      return ms;
    }));
  std::vector<double> busy;
  for (auto& c : clients)
    for (double ms : c.get()) busy.push_back(ms);
  EXPECT_EQ(get_job(s.port, *s.token, id).at("state").as_string(), "running");  // the job trained all along

  EXPECT_EQ(request(s.port, verb::delete_, fmt::format("/api/v1/jobs/{}", id)).status, 401u);
  const auto cancel = request(s.port, verb::delete_, fmt::format("/api/v1/jobs/{}", id), "", "", bearer(*s.token));
  ASSERT_EQ(cancel.status, 202u) << cancel.body;
  const json::object job = wait_for_end(s.port, *s.token, id);
  EXPECT_EQ(job.at("state").as_string(), "cancelled");
  EXPECT_TRUE(job.at("model").is_null());
  const SseStream events = stream.get();
  ASSERT_TRUE(events.ended);
  EXPECT_EQ(events.events.front().name, "state");
  EXPECT_EQ(events.events.back().name, "cancelled");
  EXPECT_EQ(
      request(s.port, verb::get, "/api/v1/models", "", "", bearer(*s.token)).json().at("models").as_array().size(), 1u);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "store" / "jobs" / std::to_string(id)));
  EXPECT_EQ(request(s.port, verb::delete_, fmt::format("/api/v1/jobs/{}", id), "", "", bearer(*s.token)).error_code(),
            "job_finished");

  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf(
      "[ measured ] predict latency (64x64 tiny model, HTTP round trip): idle median %.1f ms; "
      "4 clients while a job trains: median %.1f ms, max %.1f ms (%zu requests)\n",
      median(idle), median(busy), *std::max_element(busy.begin(), busy.end()), busy.size());

  // The next job may start once this one has ended.
  const auto next = post_train(s.port, *s.token, R"({"epochs": 1, "learning_rate": 0.001, "unfreeze": "head"})");
  ASSERT_EQ(next.status, 202u) << next.body;
  EXPECT_EQ(wait_for_end(s.port, *s.token, next.json().at("job").at("id").as_int64()).at("state").as_string(),
            "succeeded");
}

TEST_F(ServerTrain, ActivateRollBackAndRestartKeepEverything) {
  std::string token;
  std::int64_t id = 0;
  json::object finished;
  {
    Served s(dir_ / "store", model_file_);
    token = *s.token;
    add_samples(s.port, token, 2);
    const std::string png = stripes_png(2, 99);
    const auto before = request(s.port, verb::post, "/api/v1/predict?explain=none", png, "image/png").json();
    EXPECT_EQ(before.at("model").as_string(), "v1");

    const auto r = post_train(s.port, token,
                              R"({"epochs": 2, "learning_rate": 0.01, "unfreeze": "last_3_blocks", "activate": true})");
    ASSERT_EQ(r.status, 202u) << r.body;
    id = r.json().at("job").at("id").as_int64();
    finished = wait_for_end(s.port, *s.token, id);
    ASSERT_EQ(finished.at("state").as_string(), "succeeded") << json::serialize(finished);
    EXPECT_TRUE(finished.at("activated").as_bool());
    EXPECT_EQ(request(s.port, verb::get, "/api/v1/model").json().at("version").as_string(), "v2");
    const auto after = request(s.port, verb::post, "/api/v1/predict?explain=none", png, "image/png").json();
    EXPECT_EQ(after.at("model").as_string(), "v2");
    EXPECT_NE(after.at("probabilities"), before.at("probabilities"));

    // Roll back, and forward again: the state the restart must keep.
    ASSERT_EQ(request(s.port, verb::post, "/api/v1/models/v1/activate", "", "", bearer(token)).status, 200u);
    const auto rolled = request(s.port, verb::post, "/api/v1/predict?explain=none", png, "image/png").json();
    EXPECT_EQ(rolled.at("model").as_string(), "v1");
    EXPECT_EQ(rolled.at("probabilities"), before.at("probabilities"));
    ASSERT_EQ(request(s.port, verb::post, "/api/v1/models/v2/activate", "", "", bearer(token)).status, 200u);
  }
  Served s(dir_ / "store", model_file_);
  EXPECT_FALSE(s.token.has_value());
  EXPECT_EQ(request(s.port, verb::get, "/api/v1/model").json().at("version").as_string(), "v2");
  const auto samples = request(s.port, verb::get, "/api/v1/samples?per_page=500", "", "", bearer(token)).json();
  EXPECT_EQ(samples.at("total").as_int64(), 24);
  for (const auto& sample : samples.at("samples").as_array())
    EXPECT_EQ(sample.at("split").as_string(),
              server::sample_split(std::string(sample.at("patient_id").as_string()), ""));
  EXPECT_EQ(request(s.port, verb::get, "/api/v1/models", "", "", bearer(token)).json().at("models").as_array().size(),
            2u);
  EXPECT_EQ(get_job(s.port, token, id), finished);
  EXPECT_EQ(post_train(s.port, token, "{}").error_code(), "bad_parameter");  // the token still works
}

TEST(SampleSplit, FixedByPatientOrImageAndNearSeventyFifteenFifteen) {
  EXPECT_EQ(server::sample_split("p1", "aa"), server::sample_split("p1", "bb"));
  std::map<std::string, int> n;
  for (int i = 0; i < 3000; ++i) ++n[server::sample_split("", fmt::format("{:064x}", i))];
  // Binomial standard deviations at n = 3000: about 25 (train), 20 (val, test); 4 sigma.
  EXPECT_NEAR(n["train"], 2100, 100);
  EXPECT_NEAR(n["val"], 450, 80);
  EXPECT_NEAR(n["test"], 450, 80);
}

TEST(SampleSplit, StoresMadeBeforeSplitsGetThemOnOpen) {
  TempDir dir;
  std::filesystem::create_directories(dir / "store");
  {
    server::Database db((dir / "store" / "cxr.db").string());
    db.exec(
        "CREATE TABLE samples (id INTEGER PRIMARY KEY AUTOINCREMENT, sha256 TEXT NOT NULL UNIQUE, "
        "label TEXT NOT NULL, patient_id TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT 'upload', "
        "width INTEGER NOT NULL, height INTEGER NOT NULL, created_at TEXT NOT NULL DEFAULT '')");
    db.exec(
        "INSERT INTO samples (sha256, label, patient_id, width, height) VALUES ('ab', 'covid', 'p3', 9, 9), "
        "('cd', 'normal', '', 9, 9)");
  }
  server::Store store(dir / "store");
  const auto samples = store.all_samples();
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[0].split, server::sample_split("p3", "ab"));
  EXPECT_EQ(samples[1].split, server::sample_split("", "cd"));
}

TEST(StoreOpen, RemovesWhatACrashLeftBehind) {
  TempDir dir;
  LoadedModel m = tiny_four_class_model(kSize, 1);
  save_model((dir / "m.safetensors").string(), *m.net, m.info);
  std::string kept;
  {
    server::Store store(dir / "store");
    kept = store.add_model(dir / "m.safetensors", "", "{}").file;
  }
  const auto models = dir / "store" / "models";
  write_file(models / "0123.safetensors", "a complete file whose row was never committed");
  write_file(models / "4567.safetensors.tmp-42", "half a file");
  write_file(dir / "store" / "images" / "ab" / "abcd.tmp-42", "half an image");
  server::Store store(dir / "store");
  std::vector<std::string> left;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir / "store"))
    if (e.is_regular_file() && e.path().filename().string().rfind("cxr.db", 0) != 0) left.push_back(e.path().string());
  EXPECT_EQ(left, std::vector<std::string>{kept});
  EXPECT_EQ(store.models().size(), 1u);
}

TEST_F(ServerTrain, KilledMidJobTheStoreStaysConsistentAndTheJobShowsInterrupted) {
  write_base(2000);
  const auto store = dir_ / "store";
  const std::string web = std::string(std::getenv("CXR_SOURCE_DIR") ? std::getenv("CXR_SOURCE_DIR") : ".") + "/web";
  const std::vector<std::string> common{
      "--store", store.string(), "--port", "0",     "--data", (dir_ / "base").string(), "--train-threads",
      "1",       "--threads",    "1",      "--web", web};
  std::int64_t id = 0;
  std::string token;  // printed by the first start only, which creates the store
  {
    auto args = common;
    args.insert(args.end(), {"--model", model_file_});
    ServeProcess serve(args, dir_ / "serve1.log");
    ASSERT_EQ(serve.token().size(), 64u) << read_file(dir_ / "serve1.log");
    token = serve.token();
    const auto r =
        post_train(serve.port(), serve.token(), R"({"epochs": 50, "learning_rate": 0.001, "unfreeze": "all"})");
    ASSERT_EQ(r.status, 202u) << r.body;
    id = r.json().at("job").at("id").as_int64();
    wait_for_progress(serve.port(), serve.token(), id);
    const int status = serve.stop(SIGKILL);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  }
  ASSERT_TRUE(std::filesystem::exists(store / "jobs" / std::to_string(id)));  // what the killed job left

  ServeProcess serve(common, dir_ / "serve2.log");  // no --model: the store's active version
  const json::object job = get_job(serve.port(), token, id);
  EXPECT_EQ(job.at("state").as_string(), "interrupted");
  EXPECT_TRUE(job.at("model").is_null());
  EXPECT_EQ(request(serve.port(), verb::get, "/api/v1/model").json().at("version").as_string(), "v1");
  const auto models = request(serve.port(), verb::get, "/api/v1/models", "", "", bearer(token)).json();
  ASSERT_EQ(models.at("models").as_array().size(), 1u);
  EXPECT_FALSE(std::filesystem::exists(store / "jobs" / std::to_string(id)));  // work files removed at start
  for (const auto& entry : std::filesystem::recursive_directory_iterator(store))
    EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << entry.path();
  {
    server::Database db((store / "cxr.db").string());
    auto check = db.prepare("PRAGMA integrity_check");
    ASSERT_TRUE(check.step());
    EXPECT_EQ(check.text(0), "ok");
    // Every file in models/ is a registered version's, and every version's file is there.
    std::set<std::string> registered, present;
    auto files = db.prepare("SELECT file FROM models");
    while (files.step()) registered.insert(files.text(0));
    for (const auto& entry : std::filesystem::directory_iterator(store / "models"))
      present.insert(entry.path().string());
    EXPECT_EQ(present, registered);
  }
  EXPECT_EQ(request(serve.port(), verb::post, "/api/v1/predict?explain=none", stripes_png(0, 5), "image/png").status,
            200u);
  const int status = serve.stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_file(dir_ / "serve2.log");
}

}  // namespace

// GET /api/v1/jobs/{id}/telemetry/stream: one event per record of the job's
// telemetry file, equal to it, then "end" when the job has ended; late subscribers
// get the whole run; unknown jobs are 404.
TEST_F(ServerTrain, TelemetryStreamSendsTheJobsTelemetryFileRecordByRecord) {
  write_base(400);
  Served s(dir_ / "store", model_file_, (dir_ / "base").string());
  add_samples(s.port, *s.token, 2);
  const auto r = post_train(s.port, *s.token, R"({"epochs": 2, "learning_rate": 0.01, "unfreeze": "all"})");
  ASSERT_EQ(r.status, 202u) << r.body;
  const std::int64_t id = r.json().at("job").at("id").as_int64();
  const std::string target = fmt::format("/api/v1/jobs/{}/telemetry/stream", id);

  const SseStream live = read_events(s.port, *s.token, target, std::chrono::seconds(60));
  ASSERT_TRUE(live.ended) << "the stream did not end after the job";
  EXPECT_NE(live.head.find("text/event-stream"), std::string::npos) << live.head;
  EXPECT_EQ(wait_for_end(s.port, *s.token, id).at("state").as_string(), "succeeded");
  std::ifstream file(dir_ / "store" / "telemetry" / std::to_string(id) / "telemetry.jsonl");
  std::vector<json::value> records;
  for (std::string line; std::getline(file, line);) records.push_back(json::parse(line));
  ASSERT_GE(records.size(), 2u) << "the job should record telemetry every 10 steps";
  ASSERT_EQ(live.events.size(), records.size() + 1);
  for (std::size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(live.events[i].name, "telemetry");
    EXPECT_EQ(live.events[i].data, records[i]) << "record " << i;
  }
  EXPECT_EQ(live.events.back().name, "end");

  const SseStream late = read_events(s.port, *s.token, target, std::chrono::seconds(10));
  ASSERT_TRUE(late.ended);
  EXPECT_EQ(late.events.size(), live.events.size());
  auto expect = [](const HttpResult& r, unsigned status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.error_code(), code) << r.body;
  };
  const auto token = bearer(*s.token);
  expect(request(s.port, verb::get, "/api/v1/jobs/99/telemetry/stream", "", "", token), 404, "not_found");
  expect(request(s.port, verb::get, "/api/v1/jobs/x/telemetry/stream", "", "", token), 404, "not_found");
  expect(request(s.port, verb::post, target), 405, "method_not_allowed");
}

// The jobs and the model versions name the private data and describe it (sample counts,
// metrics per class): without the token every read of them is refused, streams too.
TEST_F(ServerTrain, JobsAndModelsAreReadOnlyWithTheToken) {
  Served s(dir_ / "store", model_file_);
  const std::vector<std::string> targets{"/api/v1/jobs",
                                         "/api/v1/jobs?limit=1",
                                         "/api/v1/jobs/1",
                                         "/api/v1/jobs/1/events",
                                         "/api/v1/jobs/1/telemetry/stream",
                                         "/api/v1/models"};
  for (const auto& target : targets) {
    const auto missing = request(s.port, verb::get, target);
    EXPECT_EQ(missing.status, 401u) << target << ": " << missing.body;
    EXPECT_EQ(missing.error_code(), "missing_token") << target;
    const auto wrong = request(s.port, verb::get, target, "", "", bearer(std::string(64, 'f')));
    EXPECT_EQ(wrong.status, 401u) << target << ": " << wrong.body;
    EXPECT_EQ(wrong.error_code(), "invalid_token") << target;
  }
  EXPECT_EQ(request(s.port, verb::get, "/api/v1/jobs", "", "", bearer(*s.token)).status, 200u);
  EXPECT_EQ(request(s.port, verb::get, "/api/v1/models", "", "", bearer(*s.token)).status, 200u);
}
