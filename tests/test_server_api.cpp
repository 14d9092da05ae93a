// The HTTP API over real loopback connections: health, model, predict with its
// explanations, static files, and every kind of bad input getting a 4xx JSON
// error while the server keeps serving.
#include "tiny_server_fixture.h"

#include "engine/autograd.h"
#include "engine/ops.h"
#include "models/gradcam.h"
#include "models/inference.h"
#include "server/inference.h"
#include "server/server.h"

#include <cmath>
#include <future>
#include <thread>

using namespace cxr;
using namespace cxr::test;
using http::verb;

namespace {

class ServerApi : public TinyServerTest {
 protected:
  HttpResult predict(const std::string& body, const std::string& query = "", const std::string& type = "image/png") {
    return request(port_, verb::post, "/api/v1/predict" + query, body, type);
  }

  // Probabilities and Grad-CAM as computed directly, with the training preprocessing.
  Heatmap direct(const std::string& png, CamMethod method, int target = -1) {
    const auto& info = inference_->model()->model.info;
    const PreparedImage x =
        prepare_image(std::span(reinterpret_cast<const std::uint8_t*>(png.data()), png.size()), info);
    return explain(*inference_->model()->model.net, x.input, method, target);
  }

  void expect_error(const HttpResult& r, unsigned status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.content_type, "application/json");
    ASSERT_NO_THROW(r.json()) << r.body;
    EXPECT_EQ(r.error_code(), code) << r.body;
    EXPECT_FALSE(std::string(r.json().at("error").at("message").as_string()).empty());
  }
};

TEST_F(ServerApi, HealthAndModel) {
  const auto health = request(port_, verb::get, "/api/v1/health");
  ASSERT_EQ(health.status, 200u) << health.body;
  EXPECT_EQ(health.json().at("status").as_string(), "ok");
  EXPECT_EQ(health.json().at("model").as_string(), "test");

  const auto model = request(port_, verb::get, "/api/v1/model");
  ASSERT_EQ(model.status, 200u) << model.body;
  const json::value m_json = model.json();
  const auto& m = m_json.as_object();
  EXPECT_EQ(m.at("version").as_string(), "test");
  EXPECT_EQ(m.at("input_size").as_int64(), 64);
  ASSERT_EQ(m.at("classes").as_array().size(), 2u);
  EXPECT_EQ(m.at("classes").as_array()[1].as_string(), "normal");
  EXPECT_GT(m.at("parameters").as_int64(), 1000);
}

TEST_F(ServerApi, PredictMatchesTheModelComputedDirectly) {
  const std::string png = png_bytes(97, 80, 1);
  const auto r = predict(png);
  ASSERT_EQ(r.status, 200u) << r.body;
  const json::value body_json = r.json();
  const auto& body = body_json.as_object();
  const Heatmap expected = direct(png, CamMethod::GradCam);
  const auto& probs = body.at("probabilities").as_array();
  ASSERT_EQ(probs.size(), 2u);
  double sum = 0;
  for (std::size_t c = 0; c < 2; ++c) {
    EXPECT_EQ(probs[c].at("class").as_string(), tiny_classes()[c]);
    // The server runs the same float32 computation on the same input: equal up to printing.
    EXPECT_NEAR(probs[c].at("probability").as_double(), expected.probabilities[c], 1e-9);
    sum += probs[c].at("probability").as_double();
  }
  EXPECT_NEAR(sum, 1.0, 1e-6);
  EXPECT_EQ(body.at("label_index").as_int64(), expected.target_class);
  EXPECT_EQ(body.at("image").at("width").as_int64(), 97);
  EXPECT_EQ(body.at("image").at("height").as_int64(), 80);

  const auto& e = body.at("explanation").as_object();
  EXPECT_EQ(e.at("method").as_string(), "gradcam");
  const auto& grid = e.at("grid").as_object();
  ASSERT_EQ(grid.at("height").as_int64(), expected.coarse.size(0));
  ASSERT_EQ(grid.at("width").as_int64(), expected.coarse.size(1));
  const auto& values = grid.at("values").as_array();
  ASSERT_EQ(static_cast<std::int64_t>(values.size()), expected.coarse.numel());
  double peak = 0;
  for (std::int64_t i = 0; i < expected.coarse.numel(); ++i) peak = std::max(peak, expected.coarse.at(i));
  for (std::int64_t i = 0; i < expected.coarse.numel(); ++i) {
    const double want = peak > 0 ? expected.coarse.at(i) / peak : 0.0;
    EXPECT_NEAR(values[i].as_double(), want, 1e-6) << i;  // float32 grid
  }
  for (const char* key : {"decode", "queue", "compute", "total"})
    EXPECT_GE(body.at("timings_ms").at(key).as_double(), 0.0) << key;
}

TEST_F(ServerApi, PredictOptions) {
  const std::string png = png_bytes(64, 64, 2);
  const auto pp = predict(png, "?explain=gradcam%2B%2B&class=normal");
  ASSERT_EQ(pp.status, 200u) << pp.body;
  EXPECT_EQ(pp.json().at("explanation").at("method").as_string(), "gradcam++");
  EXPECT_EQ(pp.json().at("explanation").at("class").as_string(), "normal");
  EXPECT_EQ(pp.json().at("explanation").at("class_index").as_int64(), 1);

  const auto by_index = predict(png, "?class=0");
  ASSERT_EQ(by_index.status, 200u) << by_index.body;
  EXPECT_EQ(by_index.json().at("explanation").at("class").as_string(), "covid");

  const auto none = predict(png, "?explain=none");
  ASSERT_EQ(none.status, 200u) << none.body;
  EXPECT_FALSE(none.json().as_object().contains("explanation"));
  const Heatmap expected = direct(png, CamMethod::GradCam);
  EXPECT_NEAR(none.json().at("probabilities").as_array()[0].at("probability").as_double(), expected.probabilities[0],
              1e-6);  // batched forward: same float32 ops, another GEMM blocking

  const auto jpeg = predict(jpeg_bytes(50, 70, 3), "", "image/jpeg");
  EXPECT_EQ(jpeg.status, 200u) << jpeg.body;

  const std::string boundary = "cxrTestBoundary42";
  const auto form = request(port_, verb::post, "/api/v1/predict",
                            multipart(boundary, {{"note", "", "hello"}, {"image", "x.png", png}}),
                            "multipart/form-data; boundary=" + boundary);
  ASSERT_EQ(form.status, 200u) << form.body;
  EXPECT_NEAR(form.json().at("probabilities").as_array()[0].at("probability").as_double(), expected.probabilities[0],
              1e-9);
}

TEST_F(ServerApi, ConcurrentPredictionsAllSucceedAndAgree) {
  const std::string png = png_bytes(64, 64, 4);
  const double want = direct(png, CamMethod::GradCam).probabilities[0];
  std::vector<std::future<HttpResult>> results;
  for (int i = 0; i < 12; ++i)
    results.push_back(std::async(std::launch::async, [&, i] { return predict(png, i % 2 ? "?explain=none" : ""); }));
  for (auto& f : results) {
    const HttpResult r = f.get();
    ASSERT_EQ(r.status, 200u) << r.body;
    // A batched forward can block the GEMM differently: float32 rounding only.
    EXPECT_NEAR(r.json().at("probabilities").as_array()[0].at("probability").as_double(), want, 1e-5);
  }
}

TEST_F(ServerApi, BadImagesGetClearErrors) {
  expect_error(predict("this is not an image at all"), 400, "corrupt_image");
  const std::string png = png_bytes(64, 64, 5);
  expect_error(predict(png.substr(0, png.size() / 2)), 400, "corrupt_image");
  expect_error(predict(png.substr(0, 30)), 400, "corrupt_image");
  const std::string jpeg = jpeg_bytes(64, 64, 5);
  expect_error(predict(jpeg.substr(0, jpeg.size() / 3), "", "image/jpeg"), 400, "corrupt_image");
  expect_error(predict(""), 400, "empty_body");
  // 8193 pixels wide: over the 8192 limit, refused from the header (a tiny file).
  expect_error(predict(png_bytes(8193, 1)), 413, "image_too_large");
  EXPECT_EQ(predict(png_bytes(8192, 32)).status, 200u);
  expect_error(predict(png_bytes(20, 40)), 400, "image_too_small");
}

TEST_F(ServerApi, BadRequestsGetClearErrors) {
  const std::string png = png_bytes(64, 64, 6);
  expect_error(predict(png, "", "text/plain"), 415, "unsupported_media_type");
  expect_error(predict(png, "", ""), 415, "unsupported_media_type");
  expect_error(predict(png, "?explain=magic"), 400, "bad_parameter");
  expect_error(predict(png, "?class=pneumonia"), 400, "unknown_class");
  expect_error(predict(png, "?class=7"), 400, "unknown_class");
  expect_error(
      request(port_, verb::post, "/api/v1/predict", "--x\r\nno headers end", "multipart/form-data; boundary=x"), 400,
      "malformed_multipart");
  expect_error(request(port_, verb::post, "/api/v1/predict", multipart("b", {{"other", "", "1"}}),
                       "multipart/form-data; boundary=b"),
               400, "missing_image");
  expect_error(request(port_, verb::post, "/api/v1/predict", "x", "multipart/form-data"), 400, "malformed_multipart");
  expect_error(request(port_, verb::get, "/api/v1/predict"), 405, "method_not_allowed");
  expect_error(request(port_, verb::post, "/api/v1/health"), 405, "method_not_allowed");
  expect_error(request(port_, verb::get, "/api/v1/nothing"), 404, "not_found");
  expect_error(request(port_, verb::get, "/api/v1/predict%zz"), 400, "bad_target");

  // 25 MB + 1 byte: refused from the Content-Length, the connection closed.
  expect_error(predict(std::string((25u << 20) + 1, 'x')), 413, "body_too_large");
  EXPECT_EQ(request(port_, verb::get, "/api/v1/health").status, 200u);
}

TEST_F(ServerApi, StaticFilesStayInsideWeb) {
  const auto index = request(port_, verb::get, "/");
  ASSERT_EQ(index.status, 200u);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_NE(index.body.find("not a medical device"), std::string::npos);
  EXPECT_EQ(request(port_, verb::get, "/app.js").content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(request(port_, verb::get, "/style.css").status, 200u);
  const auto openapi = request(port_, verb::get, "/api/v1/openapi.yaml");
  ASSERT_EQ(openapi.status, 200u);
  EXPECT_NE(openapi.body.find("openapi: 3"), std::string::npos);
  EXPECT_EQ(request(port_, verb::get, "/docs/openapi.yaml").status, 200u);

  for (const char* escape : {"/../CMakeLists.txt", "/%2e%2e/CMakeLists.txt", "/..%2fCMakeLists.txt",
                             "/web/../../CMakeLists.txt", "/.hidden", "/nothing.html", "/a\\..\\b"})
    expect_error(request(port_, verb::get, escape), 404, "not_found");
  expect_error(request(port_, verb::get, "/%00"), 400, "bad_target");
  expect_error(request(port_, verb::post, "/index.html"), 405, "method_not_allowed");
}

}  // namespace
