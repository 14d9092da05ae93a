// Predictions with explanations over HTTP where batching and the overlay pictures
// could go wrong: concurrent explained requests computed in one pass must each get
// their own image's heatmap, and a model trained at a smaller size than its
// dataset's (cxr train --size) gets its pictures on the fitted square.
#include "server_harness.h"

#include "models/gradcam.h"
#include "models/inference.h"
#include "server/inference.h"
#include "server/server.h"

#include <stb/stb_image.h>

#include <future>

using namespace cxr;
using namespace cxr::test;

namespace {

std::string base64_decode(std::string_view s) {
  static const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (char c : s) {
    if (c == '=') break;
    bits = bits << 6 | static_cast<std::uint32_t>(alphabet.find(c));
    if ((count += 6) >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xFF));
    }
  }
  return out;
}

// Width and height of the PNG in a data: URL.
std::pair<int, int> png_size(const json::value& url) {
  const std::string_view text = url.as_string();
  const std::string png = base64_decode(text.substr(text.find(',') + 1));
  int w = 0, h = 0, c = 0;
  EXPECT_TRUE(stbi_info_from_memory(reinterpret_cast<const stbi_uc*>(png.data()), static_cast<int>(png.size()), &w,
                                    &h, &c));
  return {w, h};
}

class ServerPredict : public ::testing::Test {
 protected:
  void start(LoadedModel model) {
    auto served = std::make_shared<server::ServedModel>();
    served->version = "test";
    served->model = std::move(model);
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

  HttpResult predict(const std::string& png, const std::string& query) {
    return request(server_->port(), http::verb::post, "/api/v1/predict" + query, png, "image/png");
  }

  server::App app_;
  std::unique_ptr<server::InferenceService> inference_;
  std::unique_ptr<server::Server> server_;
};

TEST_F(ServerPredict, ConcurrentExplanationsEachGetTheirOwnImagesHeatmap) {
  start(tiny_model());
  constexpr int kRequests = 12;
  std::vector<std::string> images;
  for (int i = 0; i < kRequests; ++i) images.push_back(png_bytes(70 + 3 * i, 64 + 5 * i, i));
  const auto query = [](int i) {
    return std::string(i % 3 == 0 ? "?explain=gradcam%2B%2B" : "?explain=gradcam") + (i % 2 ? "&class=covid" : "");
  };
  std::vector<std::future<HttpResult>> answers;
  for (int i = 0; i < kRequests; ++i)
    answers.push_back(std::async(std::launch::async, [&, i] { return predict(images[i], query(i)); }));

  int batched = 0;
  for (int i = 0; i < kRequests; ++i) {
    const HttpResult r = answers[i].get();
    ASSERT_EQ(r.status, 200u) << r.body;
    const json::value body = r.json();
    batched = std::max(batched, static_cast<int>(body.at("batch_size").as_int64()));
    const auto& info = inference_->model()->model.info;
    const PreparedImage x =
        prepare_image(std::span(reinterpret_cast<const std::uint8_t*>(images[i].data()), images[i].size()), info);
    const Heatmap want = explain(*inference_->model()->model.net, x.input,
                                 i % 3 == 0 ? CamMethod::GradCamPlusPlus : CamMethod::GradCam, i % 2 ? 0 : -1);
    EXPECT_EQ(body.at("explanation").at("class_index").as_int64(), want.target_class) << i;
    const auto& values = body.at("explanation").at("grid").at("values").as_array();
    ASSERT_EQ(static_cast<std::int64_t>(values.size()), want.coarse.numel());
    double peak = 0;
    for (std::int64_t j = 0; j < want.coarse.numel(); ++j) peak = std::max(peak, want.coarse.at(j));
    for (std::int64_t j = 0; j < want.coarse.numel(); ++j) {
      // float32 network; a batch only re-blocks the kernels' sums: rounding-level differences.
      const double expected = peak > 0 ? want.coarse.at(j) / peak : 0.0;
      EXPECT_NEAR(values[j].as_double(), expected, 1e-4) << "request " << i << " cell " << j;
    }
    EXPECT_NEAR(body.at("probabilities").as_array()[0].at("probability").as_double(), want.probabilities[0], 1e-5);
  }
  std::printf("largest batch of explained predictions: %d of %d concurrent requests\n", batched, kRequests);
}

TEST_F(ServerPredict, PicturesOnTheFittedSquareOfAModelTrainedSmaller) {
  LoadedModel m = tiny_model();
  m.info.dataset_size = 96;  // fitted to 96 x 96, then resized to the 64 x 64 input
  start(std::move(m));
  const HttpResult r = predict(png_bytes(120, 100, 3), "?explain=gradcam");
  ASSERT_EQ(r.status, 200u) << r.body;
  const json::value e = r.json().at("explanation");
  EXPECT_EQ(png_size(e.at("heatmap_png")), (std::pair<int, int>{96, 96}));
  EXPECT_EQ(png_size(e.at("overlay_png")), (std::pair<int, int>{96, 96}));
}

}  // namespace
