// Load: 16 concurrent keep-alive clients against an in-process server on an
// ephemeral loopback port, a few hundred predictions with Grad-CAM on a narrowed
// model (plus plain predictions from other clients at the same time). Every answer
// must come back well-formed and concurrent requests must be computed in batches.
// Latencies are printed, never asserted: speed goals live in scripts/load-test and
// bench/bench_predict.
#include "server_harness.h"

#include "server/inference.h"
#include "server/load/load_generator.h"
#include "server/server.h"

#include <fmt/format.h>

#include <future>

using namespace cxr;
using namespace cxr::test;

namespace {

class ServerLoad : public ::testing::Test {
 protected:
  void SetUp() override {
    auto served = std::make_shared<server::ServedModel>();
    served->version = "test";
    served->model = tiny_model();
    inference_ = std::make_unique<server::InferenceService>(served);
    app_.inference = inference_.get();
    server::ServerOptions options;
    options.port = 0;
    server_ = std::make_unique<server::Server>(app_, options);
    server_->start();
  }
  void TearDown() override {
    server_->stop();
    server_.reset();
    inference_.reset();
  }

  load::LoadOptions options(int clients, int requests, const std::string& explain) const {
    load::LoadOptions o;
    o.port = server_->port();
    o.clients = clients;
    o.requests = requests;
    o.target = "/api/v1/predict?explain=" + explain;
    o.classes = tiny_classes();
    for (int i = 0; i < 6; ++i) o.images.push_back(load::synthetic_xray_png(96 + 17 * i, 80 + 9 * i, i));
    return o;
  }

  server::App app_;
  std::unique_ptr<server::InferenceService> inference_;
  std::unique_ptr<server::Server> server_;
};

TEST_F(ServerLoad, SixteenClientsGetWellFormedAnswersComputedInBatches) {
  auto plain = std::async(std::launch::async, [&] { return load::run_load(options(4, 80, "none")); });
  const load::LoadReport explained = load::run_load(options(12, 240, "gradcam"));
  const load::LoadReport none = plain.get();
  fmt::print("Grad-CAM, 12 clients: {}\nplain, 4 clients: {}\n", explained.summary(), none.summary());

  for (const auto* r : {&explained, &none}) {
    EXPECT_EQ(r->errors, 0) << r->summary();
    EXPECT_EQ(static_cast<int>(r->latencies_ms.size()), r->requests);
  }
  EXPECT_EQ(explained.requests, 240);
  EXPECT_EQ(none.requests, 80);
  // 16 clients on one inference worker: requests that arrive while it computes
  // wait together and must share a pass.
  EXPECT_GT(explained.batch_sizes.rbegin()->first, 1) << explained.summary();
  EXPECT_EQ(explained.server.size(), explained.latencies_ms.size());
  EXPECT_EQ(request(server_->port(), http::verb::get, "/api/v1/health").status, 200u);
}

// The checker itself: it must catch what a broken server could send.
TEST(LoadChecker, RejectsMalformedAnswers) {
  const std::string good = R"({"model":"v1","label":"normal","label_index":1,
    "probabilities":[{"class":"covid","probability":0.25},{"class":"normal","probability":0.75}],
    "batch_size":2,"timings_ms":{"decode":1.5,"queue":0.25,"compute":3,"total":5},
    "explanation":{"method":"gradcam","class":"normal","class_index":1,
      "grid":{"height":1,"width":2,"values":[0.5,1.0]},
      "overlay_png":"data:image/png;base64,iVBORw0KGgo=","heatmap_png":"data:image/png;base64,iVBORw0KGgo="}})";
  const std::vector<std::string> classes = tiny_classes();
  EXPECT_EQ(load::check_prediction(good, true, classes), "");
  auto broken = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    const auto at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  EXPECT_NE(load::check_prediction(good, false, classes), "");  // explanation not asked for
  EXPECT_NE(load::check_prediction("{\"model\":", true, classes), "");
  EXPECT_NE(load::check_prediction(broken("0.75}", "0.70}"), true, classes), "");  // sum 0.95
  EXPECT_NE(load::check_prediction(broken("\"label_index\":1", "\"label_index\":0"), true, classes), "");
  EXPECT_NE(load::check_prediction(broken("\"covid\"", "\"viral\""), true, classes), "");
  EXPECT_NE(load::check_prediction(broken("[0.5,1.0]", "[0.5]"), true, classes), "");      // 1x2 grid
  EXPECT_NE(load::check_prediction(broken("[0.5,1.0]", "[0.5,0.9]"), true, classes), "");  // peak not 1
  EXPECT_NE(
      load::check_prediction(
          broken("image/png;base64,iVBORw0KGgo=\",\"heat", "image/jpeg;base64,iVBORw0KGgo=\",\"heat"), true, classes),
      "");
  EXPECT_NE(load::check_prediction(broken("\"batch_size\":2", "\"batch_size\":0"), true, classes), "");
  EXPECT_NE(load::check_prediction(broken("\"compute\":3,", ""), true, classes), "");            // a stage missing
  EXPECT_NE(load::check_prediction(broken("\"total\":5", "\"total\":4.7"), true, classes), "");  // stages > total
  EXPECT_NE(load::check_prediction(broken("\"queue\":0.25", "\"queue\":-0.25"), true, classes), "");
}

}  // namespace
