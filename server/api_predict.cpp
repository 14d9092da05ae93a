// POST /api/v1/predict: an X-ray as the raw body (image/png, image/jpeg,
// application/octet-stream) or as the "image" part of multipart/form-data;
// query ?explain=METHOD|none (default gradcam; METHOD: a name of
// models/explain/registry.h, listed by GET /api/v1/explain-methods), ?class=NAME|INDEX and
// ?overlay=true (also a PNG of the map blended over the fitted square).
//
// The model's OOD gate (models/ood_gate.h) stands in front: an image it refuses gets
// 422 not_a_chest_xray with the score and the threshold, unless ?force=true, which
// returns the prediction marked "ood": {"refused": true, "forced": true}. The
// probabilities are calibrated (temperature scaling); "logits" are the raw ones.
//
// The heatmap comes on the square the image was fitted to (what the model saw) with
// that square's box in the uploaded image's own pixels (models/overlay.h,
// square_in_source): the client places the picture by the box alone, whether the
// model pads or crops.
#include "server/api.h"

#include "server/base64.h"
#include "server/image_format.h"
#include "server/multipart.h"

#include "models/gated_prediction.h"
#include "models/overlay.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <span>

namespace cxr::server {

namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

std::string_view upload_bytes(const Request& req, std::vector<FormPart>& parts) {
  const std::string type = media_type(req[http::field::content_type]);
  if (type == "image/png" || type == "image/jpeg" || type == "application/octet-stream") {
    if (req.body().empty()) throw HttpError(http::status::bad_request, "empty_body", "the request body is empty");
    require_accepted_image_format(req.body());
    return req.body();
  }
  if (type == "multipart/form-data") {
    const auto boundary = multipart_boundary(req[http::field::content_type]);
    if (!boundary)
      throw HttpError(http::status::bad_request, "malformed_multipart", "multipart body without a boundary");
    parts = parse_multipart(req.body(), *boundary);
    const FormPart* image = find_part(parts, "image");
    if (!image) throw HttpError(http::status::bad_request, "missing_image", "no form field named 'image'");
    if (image->body.empty()) throw HttpError(http::status::bad_request, "empty_body", "the image field is empty");
    require_accepted_image_format(image->body);
    return image->body;
  }
  throw HttpError(http::status::unsupported_media_type, "unsupported_media_type",
                  fmt::format("Content-Type '{}' is not accepted: send image/png, image/jpeg, "
                              "application/octet-stream or multipart/form-data",
                              type.empty() ? std::string("(none)") : type));
}

namespace {

std::string png_data_url(const RgbImage& image) {
  return "data:image/png;base64," + base64_encode(encode_png(image, {}));
}

// The map [m, m] on the fitted square [size, size]: a model trained at another size
// than its dataset's (cxr train --size) has a map of its input size.
Tensor map_on_fitted_square(const data::GreyImage& fitted, const Tensor& map) {
  if (map.size(0) == fitted.height) return map;
  const int size = fitted.width;
  return heatmap_to_source(map, data::fit_geometry(size, size, size, data::Fit::pad), size, size, size);
}

bool flag(const Target& target, const char* name) {
  const auto value = target.param(name);
  if (!value || *value == "false") return false;
  if (*value == "true") return true;
  throw HttpError(http::status::bad_request, "bad_parameter",
                  fmt::format("{}='{}': expected true or false", name, *value));
}

// 422: the gate's refusal, in the error shape of every other reply plus the numbers.
Response refusal(const Request& req, const OodVerdict& v) {
  return json_response(req, http::status::unprocessable_entity,
                       json::object{{"error",
                                     {{"code", "not_a_chest_xray"},
                                      {"message", refusal_message(v) + "; send force=true to see it anyway"}}},
                                    {"score", v.value},
                                    {"threshold", v.threshold},
                                    {"ood", ood_to_json(v, false)}});
}

}  // namespace

Response post_predict(App& app, const Request& req, const Target& target) {
  const auto start = Clock::now();
  std::optional<std::string> method = "gradcam";
  if (const auto explain = target.param("explain")) {
    const auto names = explanation_method_names();
    if (*explain == "none")
      method.reset();
    else if (std::find(names.begin(), names.end(), *explain) != names.end())
      method = std::string(*explain);
    else
      throw HttpError(http::status::bad_request, "bad_parameter",
                      fmt::format("explain='{}': expected {} or none", *explain, fmt::join(names, ", ")));
  }

  const bool overlay = flag(target, "overlay");
  const bool force = flag(target, "force");

  std::vector<FormPart> parts;
  const std::string_view bytes = upload_bytes(req, parts);
  auto model = app.inference->model();
  PredictJob job;
  if (const auto cls = target.param("class")) job.target_class = parse_class(model->model.info, *cls);
  job.explain = method;
  job.force = force;
  job.image =
      preprocess(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()), model, app.decodes);
  const double decode_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  const json::object image_size{{"width", job.image.image.source.width}, {"height", job.image.image.source.height}};
  const data::GreyImage fitted = job.image.image.fitted;
  const SourceBox box = square_in_source(job.image.image.geometry, fitted.width);

  const Prediction p = app.inference->submit(std::move(job)).get();
  if (p.ood && p.ood->refused && !force) return refusal(req, *p.ood);
  const ModelInfo& info = p.model->model.info;
  json::array probabilities;
  for (std::size_t c = 0; c < p.probabilities.size(); ++c)
    probabilities.push_back(json::object{{"class", info.class_names.at(c)}, {"probability", p.probabilities[c]}});
  json::object body{{"model", p.model->version}, {"label", info.class_names.at(p.label)},
                    {"label_index", p.label},    {"probabilities", std::move(probabilities)},
                    {"image", image_size},       {"input_size", info.config.input_size},
                    {"batch_size", p.batch_size}};
  body["logits"] = json::value_from(p.logits);
  body["temperature"] = p.temperature;
  body["ood"] = p.ood ? json::value(ood_to_json(*p.ood, force)) : json::value(nullptr);
  if (p.explanation) {
    const Explanation& e = *p.explanation;
    const RgbImage colours = render_overlay(fitted, map_on_fitted_square(fitted, e.map), 1.0);
    json::array grid;
    for (float v : e.grid) grid.emplace_back(static_cast<double>(v));
    json::object explanation{
        {"method", e.method},
        {"class", info.class_names.at(e.target_class)},
        {"class_index", e.target_class},
        {"grid", {{"height", e.grid_height}, {"width", e.grid_width}, {"values", std::move(grid)}}},
        {"heatmap_png", png_data_url(colours)},
        {"heatmap_box", {{"x", box.x}, {"y", box.y}, {"width", box.width}, {"height", box.height}}}};
    if (overlay) explanation["overlay_png"] = png_data_url(blend_overlay(fitted, colours, 0.5));
    body["explanation"] = std::move(explanation);
  }
  const double total_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  body["timings_ms"] = {{"decode", decode_ms}, {"queue", p.queue_ms}, {"compute", p.compute_ms}, {"total", total_ms}};
  return json_response(req, http::status::ok, body);
}

}  // namespace cxr::server
