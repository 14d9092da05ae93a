// The store behind the API over real HTTP: token checks on every mutating endpoint,
// samples (add, duplicate, list with filter and pages, image, delete), bad input,
// model versions (activate, roll back), and a restart with the store intact.
#include "data_fixtures.h"
#include "server_harness.h"

#include "server/inference.h"
#include "server/server.h"
#include "server/store.h"

using namespace cxr;
using namespace cxr::test;
using http::verb;

namespace {

// A server over a store folder, as `cxr serve` builds it.
struct Running {
  Running(const std::filesystem::path& dir, const std::string& model_file) : store(dir) {
    token = store.create_token_if_missing();
    if (!store.active_model()) store.set_active(store.add_model(model_file, "", "{\"accuracy\": 0.5}").id);
    inference = std::make_unique<server::InferenceService>(server::load_served_model(*store.active_model()));
    app.inference = inference.get();
    app.store = &store;
    server::ServerOptions options;
    options.port = 0;
    server = std::make_unique<server::Server>(app, options);
    server->start();
    port = server->port();
  }
  ~Running() { server->stop(); }

  server::Store store;
  std::optional<std::string> token;
  std::unique_ptr<server::InferenceService> inference;
  server::App app;
  std::unique_ptr<server::Server> server;
  unsigned short port = 0;
};

class ServerStore : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 2; ++i) {
      LoadedModel m = tiny_model(10 + i);
      model_files_.push_back((dir_ / fmt::format("tiny{}.safetensors", i)).string());
      save_model(model_files_.back(), *m.net, m.info);
    }
  }
  std::map<std::string, std::string> bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }
  HttpResult add(Running& r, const std::string& image, const std::string& label, const std::string& token) {
    return request(r.port, verb::post, "/api/v1/samples",
                   multipart("B0undary", {{"image", "x.png", image}, {"label", "", label}, {"patient_id", "", "p7"}}),
                   "multipart/form-data; boundary=B0undary", bearer(token));
  }

  TempDir dir_;
  std::vector<std::string> model_files_;
};

TEST_F(ServerStore, SamplesNeedTheTokenAndValidInput) {
  Running r(dir_ / "store", model_files_[0]);
  ASSERT_TRUE(r.token.has_value());
  EXPECT_EQ(r.token->size(), 64u);
  const std::string png = png_bytes(64, 64, 1);

  auto missing = request(r.port, verb::post, "/api/v1/samples?label=covid", png, "image/png");
  EXPECT_EQ(missing.status, 401u);
  EXPECT_EQ(missing.error_code(), "missing_token");
  auto wrong = add(r, png, "covid", std::string(64, 'a'));
  EXPECT_EQ(wrong.status, 401u);
  EXPECT_EQ(wrong.error_code(), "invalid_token");
  EXPECT_EQ(request(r.port, verb::post, "/api/v1/samples?label=covid", png, "image/png", {{"Authorization", *r.token}})
                .error_code(),
            "invalid_token");  // no "Bearer "

  EXPECT_EQ(add(r, png, "pneumonia", *r.token).error_code(), "unknown_label");
  EXPECT_EQ(add(r, png, "", *r.token).error_code(), "unknown_label");
  EXPECT_EQ(add(r, "not an image", "covid", *r.token).error_code(), "corrupt_image");
  EXPECT_EQ(add(r, png.substr(0, png.size() / 2), "covid", *r.token).error_code(), "corrupt_image");
  EXPECT_EQ(request(r.port, verb::get, "/api/v1/samples", "", "", bearer(*r.token)).json().at("total").as_int64(), 0);

  const auto first = add(r, png, "covid", *r.token);
  ASSERT_EQ(first.status, 201u) << first.body;
  EXPECT_FALSE(first.json().at("duplicate").as_bool());
  EXPECT_EQ(first.json().at("sample").at("patient_id").as_string(), "p7");
  const auto again = add(r, png, "normal", *r.token);
  ASSERT_EQ(again.status, 200u) << again.body;
  EXPECT_TRUE(again.json().at("duplicate").as_bool());
  EXPECT_EQ(again.json().at("sample").at("id"), first.json().at("sample").at("id"));
  EXPECT_EQ(again.json().at("sample").at("label").as_string(), "covid");

  const auto raw =
      request(r.port, verb::post, "/api/v1/samples?label=normal", png_bytes(64, 64, 2), "image/png", bearer(*r.token));
  ASSERT_EQ(raw.status, 201u) << raw.body;
  ASSERT_EQ(add(r, png_bytes(70, 64, 3), "normal", *r.token).status, 201u);

  const auto all = request(r.port, verb::get, "/api/v1/samples?per_page=2", "", "", bearer(*r.token));
  ASSERT_EQ(all.status, 200u) << all.body;
  EXPECT_EQ(all.json().at("total").as_int64(), 3);
  EXPECT_EQ(all.json().at("samples").as_array().size(), 2u);
  EXPECT_EQ(all.json().at("counts").at("normal").as_int64(), 2);
  EXPECT_EQ(all.json().at("counts").at("covid").as_int64(), 1);
  EXPECT_EQ(request(r.port, verb::get, "/api/v1/samples?per_page=2&page=2", "", "", bearer(*r.token))
                .json()
                .at("samples")
                .as_array()
                .size(),
            1u);
  const auto covid = request(r.port, verb::get, "/api/v1/samples?label=covid", "", "", bearer(*r.token));
  ASSERT_EQ(covid.json().at("samples").as_array().size(), 1u);
  EXPECT_EQ(request(r.port, verb::get, "/api/v1/samples?page=0", "", "", bearer(*r.token)).error_code(),
            "bad_parameter");
  EXPECT_EQ(request(r.port, verb::get, "/api/v1/samples?per_page=x", "", "", bearer(*r.token)).error_code(),
            "bad_parameter");

  const std::int64_t id = first.json().at("sample").at("id").as_int64();
  const auto image = request(r.port, verb::get, fmt::format("/api/v1/samples/{}/image", id), "", "", bearer(*r.token));
  EXPECT_EQ(image.status, 200u);
  EXPECT_EQ(image.content_type, "image/png");
  EXPECT_EQ(image.body, png);

  EXPECT_EQ(request(r.port, verb::delete_, fmt::format("/api/v1/samples/{}", id)).status, 401u);
  EXPECT_EQ(request(r.port, verb::delete_, fmt::format("/api/v1/samples/{}", id), "", "", bearer(*r.token)).status,
            200u);
  EXPECT_EQ(request(r.port, verb::delete_, fmt::format("/api/v1/samples/{}", id), "", "", bearer(*r.token)).status,
            404u);
  EXPECT_EQ(request(r.port, verb::get, fmt::format("/api/v1/samples/{}/image", id), "", "", bearer(*r.token)).status,
            404u);
  EXPECT_EQ(request(r.port, verb::get, "/api/v1/samples/abc/image", "", "", bearer(*r.token)).error_code(),
            "bad_parameter");
  EXPECT_EQ(request(r.port, verb::get, "/api/v1/samples", "", "", bearer(*r.token)).json().at("total").as_int64(), 2);
}

TEST_F(ServerStore, ActivateAndRollBackAndRestartWithTheStoreIntact) {
  std::string token;
  {
    Running r(dir_ / "store", model_files_[0]);
    token = *r.token;
    const std::string v2 = r.store.add_model(model_files_[1], "v1", "{\"accuracy\": 0.75}").id;
    EXPECT_EQ(v2, "v2");
    ASSERT_EQ(add(r, png_bytes(64, 64, 5), "covid", token).status, 201u);

    const std::string png = png_bytes(64, 64, 6);
    const auto before = request(r.port, verb::post, "/api/v1/predict?explain=none", png, "image/png");
    EXPECT_EQ(before.json().at("model").as_string(), "v1");

    EXPECT_EQ(request(r.port, verb::post, "/api/v1/models/v2/activate").status, 401u);
    EXPECT_EQ(request(r.port, verb::post, "/api/v1/models/v9/activate", "", "", bearer(token)).status, 404u);
    const auto activated = request(r.port, verb::post, "/api/v1/models/v2/activate", "", "", bearer(token));
    ASSERT_EQ(activated.status, 200u) << activated.body;
    const auto after = request(r.port, verb::post, "/api/v1/predict?explain=none", png, "image/png");
    EXPECT_EQ(after.json().at("model").as_string(), "v2");
    EXPECT_NE(after.json().at("probabilities").as_array()[0].at("probability").as_double(),
              before.json().at("probabilities").as_array()[0].at("probability").as_double());

    const auto models = request(r.port, verb::get, "/api/v1/models", "", "", bearer(token));
    ASSERT_EQ(models.status, 200u) << models.body;
    const json::value models_json = models.json();
    const auto& list = models_json.at("models").as_array();
    ASSERT_EQ(list.size(), 2u);
    EXPECT_FALSE(list[0].at("active").as_bool());
    EXPECT_TRUE(list[1].at("active").as_bool());
    EXPECT_EQ(list[1].at("parent").as_string(), "v1");
    EXPECT_DOUBLE_EQ(list[1].at("metrics").at("accuracy").as_double(), 0.75);

    // Roll back to v1, then forward again to v2 (what the restart must keep).
    ASSERT_EQ(request(r.port, verb::post, "/api/v1/models/v1/activate", "", "", bearer(token)).status, 200u);
    EXPECT_EQ(request(r.port, verb::get, "/api/v1/model").json().at("version").as_string(), "v1");
    ASSERT_EQ(request(r.port, verb::post, "/api/v1/models/v2/activate", "", "", bearer(token)).status, 200u);
  }
  Running r(dir_ / "store", model_files_[0]);
  EXPECT_FALSE(r.token.has_value());  // printed once, at the first start only
  EXPECT_EQ(request(r.port, verb::get, "/api/v1/model").json().at("version").as_string(), "v2");
  EXPECT_EQ(request(r.port, verb::get, "/api/v1/samples", "", "", bearer(token)).json().at("total").as_int64(), 1);
  EXPECT_EQ(add(r, png_bytes(64, 64, 7), "normal", token).status, 201u);  // the old token still works
}

}  // namespace
