// POST /api/v1/inspect (server/api_inspect.cpp): the Inside page's numbers are the
// inspection of the served model, the served model is left untouched, montages come
// only for the layer asked for, and bad requests are clear errors.
#include "server_harness.h"

#include "models/inference.h"
#include "models/inspection.h"
#include "server/inference.h"
#include "server/server.h"

#include <cmath>
#include <thread>

using namespace cxr;
using namespace cxr::test;

namespace {

class ServerInspect : public ::testing::Test {
 protected:
  void SetUp() override {
    auto served = std::make_shared<server::ServedModel>();
    served->version = "test";
    served->model = tiny_model(3);
    served_ = served;
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
  HttpResult inspect_request(const std::string& query, const std::string& png) {
    return request(server_->port(), http::verb::post, "/api/v1/inspect" + query, png, "image/png");
  }

  server::App app_;
  std::shared_ptr<server::ServedModel> served_;
  std::unique_ptr<server::InferenceService> inference_;
  std::unique_ptr<server::Server> server_;
};

bool is_png_data_url(const json::value& url) {
  return url.is_string() && url.as_string().starts_with("data:image/png;base64,iVBORw0KGgo");  // the PNG signature
}

}  // namespace

TEST_F(ServerInspect, AnswersTheInspectionOfTheServedModelAndLeavesItUntouched) {
  const std::string png = png_bytes(80, 70, 4);
  const Tensor values = served_->model.params->values().clone();
  const Tensor grads = served_->model.params->grads().clone();
  const HttpResult r = inspect_request("?label=normal&layer=blocks.1", png);
  ASSERT_EQ(r.status, 200u) << r.body;
  const json::value j = r.json();

  // The same inspection here, on a copy of the model (what the server does too).
  LoadedModel copy = tiny_model(3);
  const auto bytes = std::span(reinterpret_cast<const std::uint8_t*>(png.data()), png.size());
  const PreparedImage image = prepare_image(bytes, copy.info);
  const Inspection expected = inspect(*copy.net, *copy.params, image.input, {-1, 1});
  EXPECT_EQ(j.at("objective"), "loss");
  EXPECT_EQ(j.at("class"), "normal");
  const auto& layers = j.at("layers").as_array();
  ASSERT_EQ(layers.size(), expected.layers.size());
  for (std::size_t i = 0; i < layers.size(); ++i) {
    SCOPED_TRACE(expected.layers[i].name);
    EXPECT_EQ(layers[i].at("name"), expected.layers[i].name.c_str());
    // One kernel thread in the server, all cores here: float32 sums in another order.
    const double norm = expected.layers[i].gradient.norm;
    EXPECT_NEAR(layers[i].at("gradient").at("norm").as_double(), norm, 1e-4 * norm);
    const double mean = expected.layers[i].activation.mean;
    EXPECT_NEAR(layers[i].at("activation").at("mean").as_double(), mean, 1e-4 * std::abs(mean) + 1e-7);
  }
  EXPECT_EQ(j.at("parameters").as_array().size(), expected.parameters.size());

  const auto& montages = j.at("montages");
  EXPECT_EQ(montages.at("layer"), "blocks.1");
  const std::int64_t channels = expected.layers[2].shape[1];
  EXPECT_EQ(montages.at("channels_shown").as_int64(), std::min<std::int64_t>(channels, 9));
  EXPECT_TRUE(is_png_data_url(montages.at("activation_png")));
  EXPECT_TRUE(is_png_data_url(montages.at("gradient_png")));

  // The served model's parameters and gradient buffer did not move.
  for (std::int64_t i = 0; i < values.numel(); ++i) {
    ASSERT_EQ(served_->model.params->values().at(i), values.at(i));
    ASSERT_EQ(served_->model.params->grads().at(i), grads.at(i));
  }
}

TEST_F(ServerInspect, MontagesOnlyWhenAskedAndClearErrors) {
  const std::string png = png_bytes(64, 64, 1);
  const HttpResult plain = inspect_request("", png);
  ASSERT_EQ(plain.status, 200u) << plain.body;
  EXPECT_FALSE(plain.json().as_object().contains("montages"));
  EXPECT_EQ(plain.json().at("layer_names").as_array().size(), 5u);

  EXPECT_EQ(inspect_request("?layer=nope", png).error_code(), "unknown_layer");
  EXPECT_EQ(inspect_request("?class=covid&label=normal", png).error_code(), "bad_parameter");
  EXPECT_EQ(inspect_request("?class=lung", png).error_code(), "unknown_class");
  EXPECT_EQ(inspect_request("", "not an image").status, 400u);
  EXPECT_EQ(request(server_->port(), http::verb::get, "/api/v1/inspect").status, 405u);
}

TEST_F(ServerInspect, OneTrainingStepOnACopyOfTheServedModel) {
  const Tensor values = served_->model.params->values().clone();
  const HttpResult r = request(server_->port(), http::verb::post, "/api/v1/inspect/step?label=normal",
                               png_bytes(64, 64, 2), "image/png");
  ASSERT_EQ(r.status, 200u) << r.body;
  const json::value j = r.json();
  EXPECT_EQ(j.at("labels").as_array().size(), 1u);
  EXPECT_EQ(j.at("labels").at(0), "normal");
  EXPECT_EQ(j.at("nodes").as_array().back().at("op"), "cross_entropy");
  const auto& updates = j.at("updates").as_array();
  ASSERT_EQ(updates.size(), served_->model.params->parameters().size());
  for (const auto& u : updates) EXPECT_GT(u.at("update_norm").as_double(), 0) << u.at("name");
  for (std::int64_t i = 0; i < values.numel(); ++i) ASSERT_EQ(served_->model.params->values().at(i), values.at(i));

  EXPECT_EQ(request(server_->port(), http::verb::post, "/api/v1/inspect/step", png_bytes(64, 64, 2), "image/png")
                .error_code(),
            "missing_label");
  EXPECT_EQ(request(server_->port(), http::verb::get, "/api/v1/inspect/step").status, 405u);
  EXPECT_EQ(request(server_->port(), http::verb::post, "/api/v1/inspect/other").status, 404u);
}

// Yielding to predictions (base/priority_gate.h): while a prediction holds its ticket
// the inspection waits before its kernels; it answers once the ticket is released.
TEST_F(ServerInspect, InspectionsWaitWhileAPredictionIsInFlight) {
  auto prediction = std::make_unique<PriorityGate::Ticket>(inference_->urgency());
  HttpResult answer;
  std::thread learner([&] { answer = inspect_request("?layer=stem", png_bytes(64, 64, 2)); });
  while (inference_->urgency().waiting() == 0) std::this_thread::yield();
  EXPECT_EQ(inference_->urgency().waiting(), 1);
  prediction.reset();
  learner.join();
  EXPECT_EQ(answer.status, 200u) << answer.body;
  EXPECT_GE(inference_->urgency().waits(), 1);
  // A real prediction holds a ticket only until it is answered.
  EXPECT_EQ(request(server_->port(), http::verb::post, "/api/v1/predict", png_bytes(64, 64, 2), "image/png").status,
            200u);
  while (inference_->urgency().urgent() != 0) std::this_thread::yield();
}
