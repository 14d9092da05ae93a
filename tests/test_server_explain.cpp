// The explanation methods over HTTP: GET /api/v1/explain-methods lists the registry
// (models/explain/registry.h) that the UI shows, and POST /predict?explain=<method>
// returns that method's map, the same as computed directly.
#include "tiny_server_fixture.h"

#include "models/explain/registry.h"
#include "models/inference.h"
#include "server/inference.h"
#include "server/server.h"

using namespace cxr;
using namespace cxr::test;
using http::verb;

namespace {

class ServerExplain : public TinyServerTest {};

TEST_F(ServerExplain, ListsEveryMethodWithItsDescription) {
  const auto r = request(port_, verb::get, "/api/v1/explain-methods");
  ASSERT_EQ(r.status, 200u) << r.body;
  const json::value body = r.json();
  const auto& methods = body.at("methods").as_array();
  ASSERT_EQ(methods.size(), explanation_methods().size());
  for (std::size_t i = 0; i < methods.size(); ++i) {
    EXPECT_EQ(methods[i].at("name").as_string(), explanation_methods()[i].name);
    EXPECT_EQ(methods[i].at("description").as_string(), explanation_methods()[i].description);
  }
  EXPECT_EQ(request(port_, verb::post, "/api/v1/explain-methods").status, 405u);
}

TEST_F(ServerExplain, EachMethodsMapIsTheDirectlyComputedOne) {
  const std::string png = png_bytes(97, 80, 1);
  const auto& info = inference_->model()->model.info;
  const PreparedImage x = prepare_image(std::span(reinterpret_cast<const std::uint8_t*>(png.data()), png.size()), info);
  for (const char* method : {"hirescam", "scorecam", "integrated-gradients", "guided-gradcam", "occlusion"}) {
    SCOPED_TRACE(method);
    const auto r =
        request(port_, verb::post, std::string("/api/v1/predict?class=1&explain=") + method, png, "image/png");
    ASSERT_EQ(r.status, 200u) << r.body;
    const json::value body = r.json();
    const auto& e = body.at("explanation").as_object();
    EXPECT_EQ(e.at("method").as_string(), method);
    EXPECT_EQ(e.at("class_index").as_int64(), 1);
    const Explanation want = explain_with(*inference_->model()->model.net, x.input, method, 1);
    const auto& values = e.at("grid").at("values").as_array();
    ASSERT_EQ(static_cast<std::int64_t>(values.size()), want.grid.numel());
    EXPECT_EQ(e.at("grid").at("height").as_int64(), want.grid.size(0));
    // The grid goes out as float32: half an ulp of values in [0, 1] is 6e-8.
    for (std::size_t j = 0; j < values.size(); ++j) EXPECT_NEAR(values[j].to_number<double>(), want.grid.at(j), 1e-7);
  }
}

TEST_F(ServerExplain, AnUnknownMethodIsA400NamingTheMethods) {
  const auto r = request(port_, verb::post, "/api/v1/predict?explain=lime", png_bytes(64, 64, 2), "image/png");
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.error_code(), "bad_parameter");
  EXPECT_NE(std::string(r.json().at("error").at("message").as_string()).find("eigencam"), std::string::npos);
}

}  // namespace
