// POST /api/v1/predict behind the bundled model's OOD gate: a noise image gets 422
// not_a_chest_xray with the score and the threshold (and no explanation is computed),
// ?force=true answers it marked refused and forced, a real X-ray is answered with
// calibrated probabilities, and a model without a gate says so with "ood": null.
#include "server_harness.h"

#include "models/inference.h"
#include "models/ood_probes.h"
#include "server/inference.h"
#include "server/server.h"
#include "server/store.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace cxr;
using namespace cxr::test;
namespace fs = std::filesystem;

namespace {

fs::path source_dir() {
  const char* env = std::getenv("CXR_SOURCE_DIR");
  return env && *env ? fs::path(env) : fs::path(__FILE__).parent_path().parent_path();
}

class ServerOod : public ::testing::Test {
 protected:
  void start(bool with_gate) {
    const std::string path = (source_dir() / "models/pretrained/cxr-small.safetensors").string();
    auto served = std::make_shared<server::ServedModel>();
    served->version = "bundled";
    served->model = load_model(path);
    if (with_gate) served->gate = load_gate_for(path);
    ASSERT_TRUE(!with_gate || served->gate.has_value()) << "no gate beside " << path;
    inference_ = std::make_unique<server::InferenceService>(served);
    app_.inference = inference_.get();
    server::ServerOptions options;
    options.port = 0;
    server_ = std::make_unique<server::Server>(app_, options);
    server_->start();
  }
  void TearDown() override {
    if (!server_) return;
    server_->stop();
    server_.reset();
    inference_.reset();
  }
  HttpResult predict(const std::string& png, const std::string& query) {
    return request(server_->port(), http::verb::post, "/api/v1/predict" + query, png, "image/png");
  }

  server::App app_;
  std::unique_ptr<server::InferenceService> inference_;
  std::unique_ptr<server::Server> server_;
};

std::string noise_png() {
  return ood_probe_images(1, 42).front().png;
}  // colour noise comes first

}  // namespace

TEST_F(ServerOod, NoiseIsRefusedWith422AndTheScore) {
  start(true);
  const HttpResult r = predict(noise_png(), "?explain=gradcam");
  ASSERT_EQ(r.status, 422u) << r.body;
  EXPECT_EQ(r.error_code(), "not_a_chest_xray");
  const json::object body = r.json().as_object();
  EXPECT_GT(body.at("score").as_double(), body.at("threshold").as_double());
  EXPECT_EQ(body.at("ood").at("score").as_string(), "combined");
  EXPECT_TRUE(body.at("ood").at("refused").as_bool());
  EXPECT_FALSE(body.contains("explanation"));
  EXPECT_FALSE(body.contains("label"));
}

TEST_F(ServerOod, ForceReturnsTheRawPredictionMarked) {
  start(true);
  const HttpResult r = predict(noise_png(), "?explain=gradcam&force=true");
  ASSERT_EQ(r.status, 200u) << r.body;
  const json::object body = r.json().as_object();
  EXPECT_TRUE(body.at("ood").at("refused").as_bool());
  EXPECT_TRUE(body.at("ood").at("forced").as_bool());
  EXPECT_TRUE(body.contains("explanation"));
  EXPECT_EQ(body.at("logits").as_array().size(), 4u);
  double sum = 0;
  for (const auto& p : body.at("probabilities").as_array()) sum += p.at("probability").as_double();
  EXPECT_NEAR(sum, 1.0, 1e-6);  // a float32 softmax: four values, each within a few float32 ulps
}

TEST_F(ServerOod, ForceMustBeTrueOrFalse) {
  start(true);
  const HttpResult r = predict(noise_png(), "?force=yes");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.error_code(), "bad_parameter");
}

TEST_F(ServerOod, ARealXrayIsAnsweredWithCalibratedProbabilities) {
  const char* env = std::getenv("CXR_SHARED_DATA");
  const fs::path root = env && *env ? fs::path(env) : source_dir() / "../shared/data";
  fs::path image;
  if (fs::is_directory(root / "chest_xray/test/NORMAL"))
    for (const auto& e : fs::directory_iterator(root / "chest_xray/test/NORMAL"))
      if (image.empty() || e.path() < image) image = e.path();
  if (image.empty()) GTEST_SKIP() << "real data not found under " << root.string();
  start(true);
  std::ifstream in(image, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  const HttpResult r = request(server_->port(), http::verb::post, "/api/v1/predict?explain=none", bytes.str(),
                               "application/octet-stream");
  ASSERT_EQ(r.status, 200u) << r.body;
  const json::object body = r.json().as_object();
  EXPECT_FALSE(body.at("ood").at("refused").as_bool());
  EXPECT_FALSE(body.at("ood").as_object().contains("forced"));
  // softmax(logits / T) is what "probabilities" holds.
  const double t = body.at("temperature").as_double();
  const auto& logits = body.at("logits").as_array();
  double norm = 0;
  for (const auto& z : logits) norm += std::exp(z.as_double() / t);
  const auto& probabilities = body.at("probabilities").as_array();
  // The engine's softmax runs in float32: a few float32 roundings of values <= 1.
  for (std::size_t c = 0; c < logits.size(); ++c)
    EXPECT_NEAR(probabilities[c].at("probability").as_double(), std::exp(logits[c].as_double() / t) / norm, 1e-6);
}

TEST_F(ServerOod, AModelWithoutAGateAnswersEverythingAndSaysSo) {
  start(false);
  const HttpResult r = predict(noise_png(), "?explain=none");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_TRUE(r.json().at("ood").is_null());
  EXPECT_EQ(r.json().at("temperature").as_double(), 1.0);
}

// The store keeps a model's gate beside its stored file; reopening the store (a
// restart of cxr serve) removes unregistered model files but not a registered
// model's gate. Failed before: the gate was deleted on the first restart, so a
// restarted server answered everything.
TEST(ServerStoreOod, TheGateSurvivesAReopenedStore) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("cxr-store-ood-{}", ::getpid());
  fs::remove_all(dir);
  const std::string bundled = (source_dir() / "models/pretrained/cxr-small.safetensors").string();
  std::string stored;
  {
    server::Store store(dir);
    stored = store.add_model(bundled, "", "{}").file;
  }
  ASSERT_TRUE(fs::exists(gate_path_for(stored))) << "the gate was not copied into the store";
  {
    server::Store reopened(dir);
    EXPECT_TRUE(load_gate_for(stored).has_value()) << "the gate was removed when the store was reopened";
  }
  fs::remove_all(dir);
}
