// Predictions with explanations over HTTP where batching and the overlay pictures
// could go wrong: concurrent explained requests computed in one pass must each get
// their own image's heatmap, a model trained at a smaller size than its dataset's
// (cxr train --size) gets its pictures on the fitted square, and the heatmap's box
// puts it over the image content for padding and cropping models alike.
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
  EXPECT_TRUE(
      stbi_info_from_memory(reinterpret_cast<const stbi_uc*>(png.data()), static_cast<int>(png.size()), &w, &h, &c));
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
    if (!server_) return;  // stopped already (a test that serves several models)
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

  // Every answer first: the reference below runs the served network on this thread, and
  // the service's thread must be done with it (a module's train/eval flag is not atomic).
  std::vector<HttpResult> results;
  for (auto& answer : answers) results.push_back(answer.get());

  int batched = 0;
  for (int i = 0; i < kRequests; ++i) {
    const HttpResult& r = results[i];
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
  const HttpResult r = predict(png_bytes(120, 100, 3), "?explain=gradcam&overlay=true");
  ASSERT_EQ(r.status, 200u) << r.body;
  const json::value e = r.json().at("explanation");
  EXPECT_EQ(png_size(e.at("heatmap_png")), (std::pair<int, int>{96, 96}));
  EXPECT_EQ(png_size(e.at("overlay_png")), (std::pair<int, int>{96, 96}));
  EXPECT_FALSE(predict(png_bytes(120, 100, 3), "?explain=gradcam")
                   .json()
                   .at("explanation")
                   .as_object()
                   .contains("overlay_png"));  // only when asked for
}

// A net whose Grad-CAM map is a blur of the image's brightness: one stride-1 stem
// convolution with equal positive weights, no blocks, and a class 0 that sums the
// pooled features (the others subtract them). On a black picture with one bright
// square, the map peaks on the square.
LoadedModel brightness_model(data::Fit fit) {
  LoadedModel m;
  m.info.preset = "test-brightness";
  m.info.config.stem_channels = 2;
  m.info.config.stem_stride = 1;
  m.info.config.stem_batch_norm = false;
  m.info.config.num_classes = 2;
  m.info.config.input_size = 32;
  m.info.class_names = tiny_classes();
  m.info.fit = fit;
  m.net = make_net(m.info.config, 1);
  m.params = std::make_unique<ParameterSet>(*m.net, 1);
  for (auto& p : m.params->parameters()) {
    Tensor t = p.tensor;
    const bool classifier = p.name == "classifier.weight";
    for (std::int64_t i = 0; i < t.numel(); ++i)
      t.data<float>()[i] = p.name == "stem_conv.weight" ? 1.0f / 9 : classifier ? (i < 2 ? 1.0f : -1.0f) : 0.0f;
  }
  m.net->eval();
  return m;
}

TEST_F(ServerPredict, TheHeatmapBoxPutsTheMapOnTheImageContentForPadAndCrop) {
  // 160 x 80, black, a bright 20 x 20 square right of centre: inside the centre
  // 80 x 80 that cropping keeps, and away from where a letterbox puts that square.
  constexpr int kW = 160, kH = 80, kX0 = 90, kX1 = 110, kY0 = 30, kY1 = 50;
  std::vector<std::uint8_t> px(kW * kH, 0);
  for (int y = kY0; y < kY1; ++y)
    for (int x = kX0; x < kX1; ++x) px[y * kW + x] = 255;
  std::string png;
  stbi_write_png_to_func(append_bytes, &png, kW, kH, 1, px.data(), kW);

  for (data::Fit fit : {data::Fit::pad, data::Fit::crop}) {
    start(brightness_model(fit));
    const HttpResult r = predict(png, "?explain=gradcam");
    ASSERT_EQ(r.status, 200u) << r.body;
    const json::value e = r.json().at("explanation");
    const json::value& box = e.at("heatmap_box");
    const double bx = box.at("x").to_number<double>(), by = box.at("y").to_number<double>();
    const double bw = box.at("width").to_number<double>(), bh = box.at("height").to_number<double>();
    if (fit == data::Fit::pad) {  // the square holds the whole image, centred vertically
      EXPECT_EQ((std::vector<double>{bx, by, bw, bh}), (std::vector<double>{0, -40, 160, 160}));
    } else {  // the square is the image's centre
      EXPECT_EQ((std::vector<double>{bx, by, bw, bh}), (std::vector<double>{40, 0, 80, 80}));
    }
    // The grid's peak, taken to the uploaded image by the box, lands on the square.
    const std::int64_t gh = e.at("grid").at("height").as_int64(), gw = e.at("grid").at("width").as_int64();
    const auto& values = e.at("grid").at("values").as_array();
    std::int64_t peak = 0;
    for (std::int64_t j = 0; j < gh * gw; ++j)
      if (values[j].as_double() > values[peak].as_double()) peak = j;
    const double x = bx + (static_cast<double>(peak % gw) + 0.5) / gw * bw;
    const double y = by + (static_cast<double>(peak / gw) + 0.5) / gh * bh;
    EXPECT_TRUE(x > kX0 && x < kX1 && y > kY0 && y < kY1)
        << data::fit_name(fit) << ": peak at (" << x << ", " << y << ") in the image";
    TearDown();
  }
}

}  // namespace
