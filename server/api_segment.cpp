// POST /api/v1/segment: a CT slice as the raw body (image/png, image/jpeg,
// application/octet-stream) or as the "image" part of multipart/form-data. Answers
// each class's share of the slice and the labels blended over the slice as a PNG
// (ground-glass yellow, consolidation or infection red), at the slice's own size.
// 503 segmentation_unavailable when the server runs without a CT model.
#include "server/api.h"

#include "server/base64.h"
#include "server/segmenter.h"

#include "models/seg_overlay.h"

#include <fmt/format.h>

#include <chrono>
#include <span>

namespace cxr::server {

Response post_segment(App& app, const Request& req) {
  const auto start = std::chrono::steady_clock::now();
  if (app.segmenter == nullptr)
    throw HttpError(http::status::service_unavailable, "segmentation_unavailable",
                    "this server has no CT segmentation model (cxr serve --seg-model FILE)");
  std::vector<FormPart> parts;
  const std::string_view bytes = upload_bytes(req, parts);
  const std::span image_bytes(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  // The same limits as predictions: the decode budget from the header without waiting,
  // then one of the decode slots (server/decode_gate.h) for the pixels.
  data::DecodeResult decoded = data::check_header(image_bytes, data::DecodeLimits{});
  if (decoded.ok()) {
    const DecodeGate::Permit slot = app.decodes.enter();
    decoded = data::decode_grey(image_bytes, {});
  }
  if (!decoded.ok()) {
    const auto status =
        decoded.error == "image_too_large" ? http::status::payload_too_large : http::status::bad_request;
    throw HttpError(status, decoded.error, decoded.detail);
  }
  const data::GreyImage& image = decoded.image;
  const SegPrediction p = app.segmenter->segment(image);
  const std::vector<std::string> names = seg_class_names(app.segmenter->task());
  json::array classes;
  for (std::size_t c = 0; c < names.size(); ++c)
    classes.push_back(json::object{{"class", names[c]}, {"area_fraction", p.area_fraction[c]}});
  const RgbImage overlay = render_seg_overlay(image, p.labels, app.segmenter->task() == SegTask::infection);
  const double total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  const json::object body{{"task", seg_task_name(app.segmenter->task())},
                          {"image", {{"width", image.width}, {"height", image.height}}},
                          {"classes", std::move(classes)},
                          {"overlay_png", "data:image/png;base64," + base64_encode(encode_png(overlay, {}))},
                          {"timings_ms", {{"total", total_ms}}}};
  return json_response(req, http::status::ok, body);
}

}  // namespace cxr::server
