// The training-set extension: POST/GET /api/v1/samples, GET samples/{id}/image,
// DELETE samples/{id}; and the bearer-token check of every endpoint that changes the
// server or reads its samples.
#include "server/api.h"
#include "server/image_format.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

namespace cxr::server {

namespace {

std::int64_t parse_int(const std::string& name, const std::string& value, std::int64_t lo, std::int64_t hi) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || end != value.data() + value.size() || v < lo || v > hi)
    throw HttpError(http::status::bad_request, "bad_parameter",
                    fmt::format("{}='{}': expected an integer from {} to {}", name, value, lo, hi));
  return v;
}

json::object sample_json(const SampleRecord& s) {
  return {{"id", s.id},
          {"sha256", s.sha256},
          {"label", s.label},
          {"patient_id", s.patient_id},
          {"source", s.source},
          {"split", s.split},
          {"width", s.width},
          {"height", s.height},
          {"created_at", s.created_at},
          {"image_url", fmt::format("/api/v1/samples/{}/image", s.id)}};
}

std::string field(const std::vector<FormPart>& parts, const Target& target, const std::string& name) {
  if (const FormPart* p = find_part(parts, name)) return std::string(p->body);
  return target.param(name).value_or("");
}

}  // namespace

Store& require_store(App& app) {
  if (!app.store) throw HttpError(http::status::service_unavailable, "no_store", "this server runs without a store");
  return *app.store;
}

void require_token(App& app, const Request& req) {
  Store& store = require_store(app);
  const std::string_view header = req[http::field::authorization];
  if (header.empty())
    throw HttpError(http::status::unauthorized, "missing_token",
                    "this endpoint changes the server or reads its samples: send 'Authorization: Bearer <token>'");
  // The scheme name is case-insensitive (RFC 9110 11.1): "bearer" is as good as "Bearer".
  constexpr std::string_view scheme = "bearer ";
  const bool bearer = header.size() > scheme.size() &&
                      std::equal(scheme.begin(), scheme.end(), header.begin(),
                                 [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); });
  if (!bearer || !store.token_matches(header.substr(scheme.size())))
    throw HttpError(http::status::unauthorized, "invalid_token", "the bearer token is not this server's token");
}

Response post_sample(App& app, const Request& req, const Target& target) {
  require_token(app, req);
  Store& store = require_store(app);
  std::vector<FormPart> parts;
  const std::string_view bytes = upload_bytes(req, parts);
  const auto model = app.inference->model();
  const std::string label = field(parts, target, "label");
  const auto& classes = model->model.info.class_names;
  if (std::find(classes.begin(), classes.end(), label) == classes.end()) {
    std::string names;
    for (const auto& n : classes) names += (names.empty() ? "" : ", ") + n;
    throw HttpError(http::status::bad_request, "unknown_label",
                    fmt::format("label '{}' is not one of the model's classes ({})", label, names));
  }
  const std::string patient = field(parts, target, "patient_id");
  if (patient.size() > 128)
    throw HttpError(http::status::bad_request, "bad_parameter", "patient_id is longer than 128 characters");
  // Refuse what training could not read: the same checks as a prediction.
  const Preprocessed p =
      preprocess(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()), model, app.decodes);
  const auto added = store.add_sample(bytes, label, patient, "upload", p.image.source.width, p.image.source.height);
  return json_response(req, added.duplicate ? http::status::ok : http::status::created,
                       {{"sample", sample_json(added.sample)}, {"duplicate", added.duplicate}});
}

Response get_samples(App& app, const Request& req, const Target& target) {
  require_token(app, req);  // uploaded X-rays and patient ids are private
  Store& store = require_store(app);
  const auto page = parse_int("page", target.param("page").value_or("1"), 1, 1'000'000);
  const auto per_page = parse_int("per_page", target.param("per_page").value_or("50"), 1, 500);
  auto label = target.param("label");
  auto source = target.param("source");
  if (label && label->empty()) label.reset();
  if (source && source->empty()) source.reset();
  const SamplePage result = store.list_samples(label, source, page, per_page);
  json::array samples;
  for (const auto& s : result.samples) samples.push_back(sample_json(s));
  json::object counts;
  for (const auto& [k, v] : result.counts) counts[k] = v;
  return json_response(req, http::status::ok,
                       {{"samples", std::move(samples)},
                        {"total", result.total},
                        {"page", page},
                        {"per_page", per_page},
                        {"counts", std::move(counts)}});
}

Response get_sample_image(App& app, const Request& req, const std::string& id) {
  require_token(app, req);
  Store& store = require_store(app);
  const auto sample = store.sample(parse_int("id", id, 1, INT64_MAX));
  if (!sample) throw HttpError(http::status::not_found, "not_found", fmt::format("no sample {}", id));
  std::ifstream in(store.image_path(sample->sha256), std::ios::binary);
  if (!in) throw HttpError(http::status::not_found, "not_found", fmt::format("the image of sample {} is missing", id));
  std::ostringstream content;
  content << in.rdbuf();
  std::string bytes = content.str();
  // Served as what its bytes are: a sample stored before uploads were limited to PNG and
  // JPEG (a BMP, say) is not labelled as either.
  const std::string_view type = image_media_type(bytes);
  return text_response(req, http::status::ok, type.empty() ? "application/octet-stream" : type, std::move(bytes));
}

Response delete_sample(App& app, const Request& req, const std::string& id) {
  require_token(app, req);
  const std::int64_t n = parse_int("id", id, 1, INT64_MAX);
  if (!require_store(app).delete_sample(n))
    throw HttpError(http::status::not_found, "not_found", fmt::format("no sample {}", id));
  return json_response(req, http::status::ok, {{"deleted", n}});
}

}  // namespace cxr::server
