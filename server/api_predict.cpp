// POST /api/v1/predict: an X-ray as the raw body (image/png, image/jpeg,
// application/octet-stream) or as the "image" part of multipart/form-data;
// query ?explain=gradcam|gradcam++|none (default gradcam), ?class=NAME|INDEX and
// ?overlay=true (also a PNG of the map blended over the fitted square).
//
// The heatmap comes on the square the image was fitted to (what the model saw) with
// that square's box in the uploaded image's own pixels (models/overlay.h,
// square_in_source): the client places the picture by the box alone, whether the
// model pads or crops.
#include "server/api.h"

#include "server/base64.h"
#include "server/image_format.h"
#include "server/multipart.h"

#include "models/overlay.h"

#include <fmt/format.h>

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

bool overlay_wanted(const Target& target) {
  const auto overlay = target.param("overlay");
  if (!overlay || *overlay == "false") return false;
  if (*overlay == "true") return true;
  throw HttpError(http::status::bad_request, "bad_parameter",
                  fmt::format("overlay='{}': expected true or false", *overlay));
}

}  // namespace

Response post_predict(App& app, const Request& req, const Target& target) {
  const auto start = Clock::now();
  std::optional<CamMethod> method = CamMethod::GradCam;
  if (const auto explain = target.param("explain")) {
    if (*explain == "none")
      method.reset();
    else if (*explain == "gradcam" || *explain == "gradcam++")
      method = parse_cam_method(*explain);
    else
      throw HttpError(http::status::bad_request, "bad_parameter",
                      fmt::format("explain='{}': expected gradcam, gradcam++ or none", *explain));
  }

  const bool overlay = overlay_wanted(target);

  std::vector<FormPart> parts;
  const std::string_view bytes = upload_bytes(req, parts);
  auto model = app.inference->model();
  PredictJob job;
  if (const auto cls = target.param("class")) job.target_class = parse_class(model->model.info, *cls);
  job.explain = method;
  job.image =
      preprocess(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()), model, app.decodes);
  const double decode_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  const json::object image_size{{"width", job.image.image.source.width}, {"height", job.image.image.source.height}};
  const data::GreyImage fitted = job.image.image.fitted;
  const SourceBox box = square_in_source(job.image.image.geometry, fitted.width);

  const Prediction p = app.inference->submit(std::move(job)).get();
  const ModelInfo& info = p.model->model.info;
  json::array probabilities;
  for (std::size_t c = 0; c < p.probabilities.size(); ++c)
    probabilities.push_back(json::object{{"class", info.class_names.at(c)}, {"probability", p.probabilities[c]}});
  json::object body{{"model", p.model->version}, {"label", info.class_names.at(p.label)},
                    {"label_index", p.label},    {"probabilities", std::move(probabilities)},
                    {"image", image_size},       {"input_size", info.config.input_size},
                    {"batch_size", p.batch_size}};
  if (p.explanation) {
    const Explanation& e = *p.explanation;
    const RgbImage colours = render_overlay(fitted, map_on_fitted_square(fitted, e.map), 1.0);
    json::array grid;
    for (float v : e.grid) grid.emplace_back(static_cast<double>(v));
    json::object explanation{
        {"method", cam_method_name(e.method)},
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
