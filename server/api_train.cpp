// Fine-tuning (server/jobs.h): POST /api/v1/train, GET /api/v1/jobs,
// GET and DELETE /api/v1/jobs/{id}, and the job's Server-Sent Events,
// GET /api/v1/jobs/{id}/events:
//   event: state      the job as it is when the stream opens (a late subscriber's catch-up)
//   event: progress   {epoch, epochs, batch, batches, loss, lr, images_per_second,
//                      eta_seconds, fraction}, at most four a second
//   event: epoch      an epoch's validation metrics (train_loss, val_loss, val_accuracy,
//                      val_macro_f1, val_f1 per class, ..., best)
//   event: done | failed | cancelled | interrupted
//                     the job at its end; then the server closes the stream
// and a comment line (": keep-alive") after 15 s without events.
#include "server/api.h"
#include "server/jobs.h"
#include "server/train_params.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <set>

namespace cxr::server {

namespace {

constexpr int kMaxEpochs = 50;
constexpr double kMaxLearningRate = 0.1;
constexpr int kMaxBatch = 256;

Jobs& require_jobs(App& app) {
  if (!app.jobs)
    throw HttpError(http::status::service_unavailable, "no_training", "this server runs without fine-tuning");
  return *app.jobs;
}

[[noreturn]] void bad(const std::string& message) {
  throw HttpError(http::status::bad_request, "bad_parameter", message);
}

std::int64_t job_id(const std::string& text) {
  std::int64_t id = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id < 1)
    throw HttpError(http::status::not_found, "not_found", fmt::format("no job '{}'", text));
  return id;
}

int integer_field(const json::value& v, const char* name, int lo, int hi) {
  // Boost.JSON keeps integers up to INT64_MAX as int64; larger ones (uint64) are out of range anyway.
  if (!v.is_int64() || v.as_int64() < lo || v.as_int64() > hi)
    bad(fmt::format("{}: expected an integer from {} to {}, got {}", name, lo, hi, json::serialize(v)));
  return static_cast<int>(v.as_int64());
}

}  // namespace

FineTuneParams parse_train_params(const Request& req) {
  const std::string type = media_type(req[http::field::content_type]);
  if (!type.empty() && type != "application/json")
    throw HttpError(http::status::unsupported_media_type, "unsupported_media_type",
                    fmt::format("Content-Type '{}' is not accepted: send application/json", type));
  boost::system::error_code ec;
  const json::value body = json::parse(req.body(), ec);
  if (ec)
    throw HttpError(http::status::bad_request, "malformed_json", fmt::format("the body is not JSON: {}", ec.message()));
  if (!body.is_object())
    throw HttpError(http::status::bad_request, "malformed_json",
                    "expected a JSON object {\"epochs\", \"learning_rate\", \"unfreeze\", \"batch\", \"activate\"}");
  const json::object& o = body.as_object();
  static const std::set<std::string> known{"epochs", "learning_rate", "unfreeze", "batch", "activate"};
  for (const auto& [key, value] : o)
    if (!known.count(std::string(key)))
      bad(fmt::format("unknown field '{}': expected epochs, learning_rate, unfreeze, batch, activate",
                      std::string(key)));
  for (const char* required : {"epochs", "learning_rate", "unfreeze"})
    if (!o.contains(required)) bad(fmt::format("the field '{}' is required", required));

  FineTuneParams p;
  p.epochs = integer_field(o.at("epochs"), "epochs", 1, kMaxEpochs);
  const json::value& lr = o.at("learning_rate");
  if (!lr.is_number() || !std::isfinite(lr.to_number<double>()) || lr.to_number<double>() <= 0 ||
      lr.to_number<double>() > kMaxLearningRate)
    bad(fmt::format("learning_rate: expected a number above 0 and at most {}, got {}", kMaxLearningRate,
                    json::serialize(lr)));
  p.learning_rate = lr.to_number<double>();
  const json::value& unfreeze = o.at("unfreeze");
  const auto level = unfreeze.is_string() ? parse_unfreeze(std::string(unfreeze.as_string())) : std::nullopt;
  if (!level)
    bad(fmt::format("unfreeze: expected \"head\", \"last_block\", \"last_3_blocks\" or \"all\", got {}",
                    json::serialize(unfreeze)));
  p.unfreeze = *level;
  if (const auto* batch = o.if_contains("batch")) p.batch = integer_field(*batch, "batch", 1, kMaxBatch);
  if (const auto* activate = o.if_contains("activate")) {
    if (!activate->is_bool()) bad(fmt::format("activate: expected true or false, got {}", json::serialize(*activate)));
    p.activate = activate->as_bool();
  }
  return p;
}

Response post_train(App& app, const Request& req) {
  require_token(app, req);
  Jobs& jobs = require_jobs(app);
  const json::object job = jobs.start(parse_train_params(req));
  Response res = json_response(req, http::status::accepted, {{"job", job}});
  res.set(http::field::location, fmt::format("/api/v1/jobs/{}", job.at("id").as_int64()));
  return res;
}

Response get_jobs(App& app, const Request& req, const Target& target) {
  require_token(app, req);  // a job names its parent model, its data and the samples' counts
  int limit = 20;
  if (const auto text = target.param("limit")) {
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), limit);
    if (ec != std::errc() || end != text->data() + text->size() || limit < 1 || limit > 100)
      bad(fmt::format("limit='{}': expected an integer from 1 to 100", *text));
  }
  return json_response(req, http::status::ok, {{"jobs", require_jobs(app).recent(limit)}});
}

Response get_job(App& app, const Request& req, const std::string& id) {
  require_token(app, req);
  const auto job = require_jobs(app).find(job_id(id));
  if (!job) throw HttpError(http::status::not_found, "not_found", fmt::format("no job {}", id));
  return json_response(req, http::status::ok, {{"job", *job}});
}

Response delete_job(App& app, const Request& req, const std::string& id) {
  require_token(app, req);
  const json::object job = require_jobs(app).cancel(job_id(id));
  return json_response(req, http::status::accepted, {{"job", job}});
}

Reply get_job_events(App& app, const Request& req, const std::string& id) {
  require_token(app, req);  // its first event is the whole job
  auto events = require_jobs(app).events(job_id(id));
  if (!events) throw HttpError(http::status::not_found, "not_found", fmt::format("no job {}", id));
  // The head only: no Content-Length, so the body is the events until the server closes.
  Response res{http::status::ok, req.version()};
  res.set(http::field::server, "cxr");
  res.set(http::field::content_type, "text/event-stream");
  res.set(http::field::cache_control, "no-store");
  res.set("X-Accel-Buffering", "no");
  res.keep_alive(false);
  return {std::move(res), std::move(events)};
}

}  // namespace cxr::server
