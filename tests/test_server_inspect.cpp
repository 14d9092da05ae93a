// POST /api/v1/inspect (server/api_inspect.cpp): the Inside page's numbers are the
// inspection of the served model, the served model is left untouched, montages come
// only for the layer asked for, and bad requests are clear errors.
#include "server_harness.h"

#include "models/inference.h"
#include "models/inspection.h"
#include "server/inference.h"
#include "server/server.h"

#include <algorithm>
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

// GET /api/v1/inspect/step/{id}/tensor (server/api_inspect_tensor.cpp): the step's
// tensors whole, equal to the engine's recomputed here, in bounded ranges, and clear
// 4xx for every bad name.
TEST_F(ServerInspect, AStepsTensorsWholeAndBounded) {
  const std::string png = png_bytes(64, 64, 2);
  const HttpResult r =
      request(server_->port(), http::verb::post, "/api/v1/inspect/step?label=normal", png, "image/png");
  ASSERT_EQ(r.status, 200u) << r.body;
  const json::value step = r.json();
  const std::string id = step.at("step_id").as_string().c_str();
  EXPECT_GT(step.at("whole_tensors").at("bytes_kept").as_int64(), 0);
  EXPECT_LE(step.at("whole_tensors").at("bytes_kept").as_int64(),
            step.at("whole_tensors").at("max_total_bytes").as_int64());
  const auto get = [&](const std::string& query, const std::string& step_id = "") {
    return request(server_->port(), http::verb::get,
                   "/api/v1/inspect/step/" + (step_id.empty() ? id : step_id) + "/tensor" + query);
  };

  const auto& nodes = step.at("nodes").as_array();
  const auto& leaves = step.at("leaves").as_array();
  const auto leaf_named = [&](const std::string& name) {
    for (const auto& l : leaves)
      if (l.at("name") == name.c_str()) return l.at("id").as_int64();
    return std::int64_t{-1};
  };

  // The first op, the stem's convolution, recomputed here in float64 from the image
  // prepared here and the served model's weights (the server works on a copy).
  const json::value& stem = nodes.at(0);
  ASSERT_EQ(stem.at("op"), "conv2d");
  ASSERT_EQ(stem.at("inputs").at(0).at("leaf").as_int64(), leaf_named("input"));
  const auto& entries = served_->model.params->parameters();
  const auto entry_of = [&](const json::value& input) {
    const std::string name =
        leaves.at(static_cast<std::size_t>(input.at("leaf").as_int64())).at("name").as_string().c_str();
    const auto e = std::find_if(entries.begin(), entries.end(), [&](const auto& x) { return x.name == name; });
    EXPECT_NE(e, entries.end()) << name;
    return e->tensor;
  };
  const Tensor weight = entry_of(stem.at("inputs").at(1));
  const bool has_bias = !stem.at("inputs").at(2).is_null();
  const auto bytes = std::span(reinterpret_cast<const std::uint8_t*>(png.data()), png.size());
  const Tensor x = prepare_image(bytes, tiny_model(3).info).input;  // [1, 1, S, S]
  const HttpResult stem_answer = get("?node=0&kind=output");
  ASSERT_EQ(stem_answer.status, 200u) << stem_answer.body;
  const json::value v = stem_answer.json();
  const auto shape = json::value_to<std::vector<std::int64_t>>(v.at("shape"));
  ASSERT_EQ(shape.size(), 4u);
  const std::int64_t channels = shape[1], out = shape[2], in = x.size(2), k = weight.size(2), pad = k / 2;
  const std::int64_t stride = in / out;
  ASSERT_EQ(weight.size(1), 1);  // one grey channel in
  ASSERT_EQ(v.at("numel").as_int64(), channels * out * out);
  for (std::int64_t c = 0; c < channels; ++c)
    for (std::int64_t i = 0; i < out; ++i)
      for (std::int64_t j = 0; j < out; ++j) {
        double sum = has_bias ? entry_of(stem.at("inputs").at(2)).at(c) : 0.0;
        for (std::int64_t a = 0; a < k; ++a)
          for (std::int64_t b = 0; b < k; ++b) {
            const std::int64_t y = i * stride + a - pad, z = j * stride + b - pad;
            if (y >= 0 && y < in && z >= 0 && z < in) sum += weight.at((c * k + a) * k + b) * x.at(y * in + z);
          }
        // float32 products summed in float32 over k * k = 9 terms: ~1e-6 relative.
        ASSERT_NEAR(v.at("values").at((c * out + i) * out + j).as_double(), sum, 1e-5 * (1 + std::abs(sum)))
            << c << ", " << i << ", " << j;
      }
  EXPECT_EQ(v.at("stats").at("count").as_int64(), channels * out * out);

  // d loss / d logits (the loss's input) = softmax(logits) - one-hot, in float64 from
  // the served logits (dropout precedes them, so only the step knows them).
  const std::int64_t logits_node = nodes.back().at("inputs").at(0).at("node").as_int64();
  const json::value logits = get("?node=" + std::to_string(logits_node) + "&kind=output").json();
  const json::value g = get("?node=" + std::to_string(logits_node) + "&kind=gradient").json();
  const auto& classes = served_->model.info.class_names;
  const auto normal = std::find(classes.begin(), classes.end(), "normal") - classes.begin();
  const auto& l = logits.at("values").as_array();
  ASSERT_EQ(l.size(), classes.size());
  double peak = -1e300, sum = 0;
  for (const auto& z : l) peak = std::max(peak, z.as_double());
  for (const auto& z : l) sum += std::exp(z.as_double() - peak);
  for (std::size_t c = 0; c < l.size(); ++c) {
    const double p = std::exp(l[c].as_double() - peak) / sum;
    // float32 softmax: ~1e-7 relative on values below 1.
    EXPECT_NEAR(g.at("values").at(c).as_double(), p - (static_cast<std::ptrdiff_t>(c) == normal ? 1.0 : 0.0), 1e-6)
        << c;
  }

  // The stem's weight before the step: exactly the served one; after it, moved.
  const std::int64_t leaf = stem.at("inputs").at(1).at("leaf").as_int64();
  const std::string name = leaves.at(static_cast<std::size_t>(leaf)).at("name").as_string().c_str();
  const auto entry = std::find_if(entries.begin(), entries.end(), [&](const auto& e) { return e.name == name; });
  ASSERT_NE(entry, entries.end());
  const HttpResult before_answer = get("?leaf=" + std::to_string(leaf) + "&kind=value");
  ASSERT_EQ(before_answer.status, 200u) << before_answer.body;
  const json::value before = before_answer.json();
  const json::value after = get("?leaf=" + std::to_string(leaf) + "&kind=after").json();
  ASSERT_EQ(before.at("numel").as_int64(), entry->tensor.numel());
  bool moved = false;
  // The answer writes each float32 exactly (as a double), but Boost
  // 1.81's parser may miss the double by an ulp: rounding to float32 undoes that.
  const auto as_float = [](const json::value& x) {
    return static_cast<float>(x.as_double());
  };
  for (std::int64_t i = 0; i < entry->tensor.numel(); ++i) {
    ASSERT_EQ(as_float(before.at("values").at(i)), static_cast<float>(entry->tensor.at(i))) << i;
    moved = moved || as_float(after.at("values").at(i)) != static_cast<float>(entry->tensor.at(i));
  }
  EXPECT_TRUE(moved);

  // A range: offset and count.
  const HttpResult part_answer = get("?leaf=" + std::to_string(leaf) + "&kind=value&offset=1&count=2");
  ASSERT_EQ(part_answer.status, 200u) << part_answer.body;
  const json::value part = part_answer.json();
  ASSERT_EQ(part.at("values").as_array().size(), 2u);
  EXPECT_EQ(part.at("values").at(1), before.at("values").at(2));

  // Bad names and ranges.
  const std::string node0 = "?node=0&kind=output";
  EXPECT_EQ(get(node0, "0123456789abcdef").error_code(), "unknown_step");
  EXPECT_EQ(get("?node=9999").error_code(), "unknown_node");
  EXPECT_EQ(get("?node=9999").status, 404u);
  EXPECT_EQ(get("?leaf=9999").error_code(), "unknown_leaf");
  EXPECT_EQ(get("?node=x").error_code(), "bad_parameter");
  EXPECT_EQ(get("?node=-1").error_code(), "bad_parameter");
  EXPECT_EQ(get("?node=0&leaf=0").error_code(), "bad_parameter");
  EXPECT_EQ(get("").error_code(), "bad_parameter");
  EXPECT_EQ(get("?node=0&kind=after").error_code(), "bad_kind");
  EXPECT_EQ(get(node0 + "&count=70000").error_code(), "range_too_large");
  EXPECT_EQ(get(node0 + "&offset=1&count=" + std::to_string(v.at("numel").as_int64())).error_code(), "bad_range");
  EXPECT_EQ(get(node0 + "&offset=99999999").error_code(), "bad_range");
  const std::int64_t input_leaf = leaf_named("input");
  const HttpResult no_gradient = get("?leaf=" + std::to_string(input_leaf) + "&kind=gradient");
  EXPECT_EQ(no_gradient.error_code(), "tensor_not_kept");
  EXPECT_EQ(no_gradient.status, 404u);
  EXPECT_EQ(request(server_->port(), http::verb::post, "/api/v1/inspect/step/" + id + "/tensor?node=0").status, 405u);

  // The server keeps the last two steps only.
  for (int i = 0; i < 2; ++i)
    ASSERT_EQ(request(server_->port(), http::verb::post, "/api/v1/inspect/step?label=normal", png, "image/png").status,
              200u);
  EXPECT_EQ(get(node0).error_code(), "unknown_step");
}
