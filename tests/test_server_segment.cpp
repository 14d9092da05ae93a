// POST /api/v1/segment over HTTP: the answer's classes, areas and overlay at the
// slice's own size, multipart uploads, bad uploads, and a server without a CT model.
#include "server_harness.h"

#include "models/seg_model.h"
#include "server/inference.h"
#include "server/segmenter.h"
#include "server/server.h"

#include <filesystem>

using namespace cxr;
using namespace cxr::test;

namespace {

class ServerSegment : public ::testing::Test {
 protected:
  // A small untrained multi-class U-Net: the test checks the plumbing, not the labels.
  void start(bool with_segmenter) {
    auto served = std::make_shared<server::ServedModel>();
    served->version = "test";
    served->model = tiny_model();
    inference_ = std::make_unique<server::InferenceService>(served);
    app_.inference = inference_.get();
    if (with_segmenter) {
      SegNetConfig config;
      config.input_size = 32;
      config.widths = {4, 8};
      SegModel model = make_seg_model(SegTask::multiclass, config, 1);
      model_path_ = (std::filesystem::temp_directory_path() / "cxr_test_server_seg.safetensors").string();
      save_seg_model(model_path_, model);
      segmenter_ = std::make_unique<server::Segmenter>(model_path_);
      app_.segmenter = segmenter_.get();
    }
    server::ServerOptions options;
    options.port = 0;
    server_ = std::make_unique<server::Server>(app_, options);
    server_->start();
  }
  void TearDown() override {
    server_->stop();
    if (!model_path_.empty()) std::filesystem::remove(model_path_);
  }
  HttpResult segment(const std::string& body, const std::string& type) {
    return request(server_->port(), http::verb::post, "/api/v1/segment", body, type);
  }

  server::App app_;
  std::string model_path_;
  std::unique_ptr<server::InferenceService> inference_;
  std::unique_ptr<server::Segmenter> segmenter_;
  std::unique_ptr<server::Server> server_;
};

TEST_F(ServerSegment, AnswersAreasPerClassAndAnOverlayAtTheSlicesSize) {
  start(true);
  const HttpResult r = segment(png_bytes(90, 70, 2), "image/png");
  ASSERT_EQ(r.status, 200u) << r.body;
  const json::value body = r.json();
  EXPECT_EQ(body.at("task"), "multiclass");
  EXPECT_EQ(body.at("image").at("width"), 90);
  EXPECT_EQ(body.at("image").at("height"), 70);
  const json::array& classes = body.at("classes").as_array();
  ASSERT_EQ(classes.size(), 2u);
  EXPECT_EQ(classes[0].at("class"), "ground-glass");
  EXPECT_EQ(classes[1].at("class"), "consolidation");
  double total = 0;
  for (const auto& c : classes) {
    const double a = c.at("area_fraction").to_number<double>();
    EXPECT_GE(a, 0.0);
    total += a;
  }
  EXPECT_LE(total, 1.0 + 1e-12) << "a pixel has one label";
  EXPECT_TRUE(body.at("overlay_png").as_string().starts_with("data:image/png;base64,"));

  const HttpResult form =
      segment(multipart("XyZ", {{"image", "slice.jpg", jpeg_bytes(64, 80, 3)}}), "multipart/form-data; boundary=XyZ");
  ASSERT_EQ(form.status, 200u) << form.body;
  EXPECT_EQ(form.json().at("image").at("height"), 80);
}

TEST_F(ServerSegment, RefusesBadUploadsAndOtherMethods) {
  start(true);
  EXPECT_EQ(segment("", "image/png").status, 400u);
  const HttpResult corrupt = segment(std::string("\x89PNG\r\n\x1a\n", 8) + "garbage", "image/png");
  EXPECT_EQ(corrupt.status, 400u) << corrupt.body;
  EXPECT_EQ(segment(png_bytes(40, 40), "text/plain").status, 415u);
  const HttpResult get = request(server_->port(), http::verb::get, "/api/v1/segment");
  EXPECT_EQ(get.status, 405u);
  EXPECT_EQ(get.headers.at("Allow"), "POST");
}

TEST_F(ServerSegment, WithoutACtModelAnswers503) {
  start(false);
  const HttpResult r = segment(png_bytes(40, 40), "image/png");
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(r.error_code(), "segmentation_unavailable");
}

}  // namespace
