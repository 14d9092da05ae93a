#include "server/router.h"

#include "server/api.h"
#include "server/static_files.h"
#include "server/url.h"

#include "base/check.h"

#include <fmt/format.h>

namespace cxr::server {

namespace {

[[noreturn]] void method_not_allowed(const Request& req) {
  throw HttpError(http::status::method_not_allowed, "method_not_allowed",
                  fmt::format("{} is not allowed on {}", std::string(req.method_string()), std::string(req.target())));
}

Reply route(App& app, const Request& req) {
  const auto target = parse_target(req.target());
  if (!target) throw HttpError(http::status::bad_request, "bad_target", "malformed request target");
  const auto& s = target->segments;
  const auto method = req.method();

  if (s.size() >= 2 && s[0] == "api" && s[1] == "v1") {
    const std::string resource = s.size() > 2 ? s[2] : "";
    if (s.size() == 3 && resource == "health") {
      if (method != http::verb::get) method_not_allowed(req);
      return {get_health(app, req), nullptr};
    }
    if (s.size() == 3 && resource == "model") {
      if (method != http::verb::get) method_not_allowed(req);
      return {get_model(app, req), nullptr};
    }
    if (s.size() == 3 && resource == "predict") {
      if (method != http::verb::post) method_not_allowed(req);
      return {post_predict(app, req, *target), nullptr};
    }
    if (resource == "samples") {
      if (s.size() == 3 && method == http::verb::post) return {post_sample(app, req, *target), nullptr};
      if (s.size() == 3 && method == http::verb::get) return {get_samples(app, req, *target), nullptr};
      if (s.size() == 4 && method == http::verb::delete_) return {delete_sample(app, req, s[3]), nullptr};
      if (s.size() == 5 && s[4] == "image" && method == http::verb::get)
        return {get_sample_image(app, req, s[3]), nullptr};
      if (s.size() <= 5) method_not_allowed(req);
    }
    if (resource == "models") {
      if (s.size() == 3 && method == http::verb::get) return {get_models(app, req), nullptr};
      if (s.size() == 5 && s[4] == "activate" && method == http::verb::post)
        return {post_activate(app, req, s[3]), nullptr};
      if (s.size() == 3 || (s.size() == 5 && s[4] == "activate")) method_not_allowed(req);
    }
    if (s.size() == 3 && resource == "train") {
      if (method != http::verb::post) method_not_allowed(req);
      return {post_train(app, req), nullptr};
    }
    if (resource == "jobs") {
      if (s.size() == 3 && method == http::verb::get) return {get_jobs(app, req, *target), nullptr};
      if (s.size() == 4 && method == http::verb::get) return {get_job(app, req, s[3]), nullptr};
      if (s.size() == 4 && method == http::verb::delete_) return {delete_job(app, req, s[3]), nullptr};
      if (s.size() == 5 && s[4] == "events" && method == http::verb::get) return get_job_events(app, req, s[3]);
      if (s.size() <= 4 || (s.size() == 5 && s[4] == "events")) method_not_allowed(req);
    }
    if (s.size() == 3 && resource == "openapi.yaml") {
      if (method != http::verb::get && method != http::verb::head) method_not_allowed(req);
      return {file_response(req, app.openapi), nullptr};
    }
    throw HttpError(http::status::not_found, "not_found", fmt::format("no API endpoint {}", target->path));
  }

  if (method != http::verb::get && method != http::verb::head) method_not_allowed(req);
  if (target->path == "/docs/openapi.yaml") return {file_response(req, app.openapi), nullptr};
  const auto file = resolve_static(app.web_root, target->path);
  if (!file) throw HttpError(http::status::not_found, "not_found", fmt::format("no file {}", target->path));
  return {file_response(req, *file), nullptr};
}

}  // namespace

Reply handle(App& app, const Request& req) {
  try {
    return route(app, req);
  } catch (const HttpError& e) {
    return {error_response(req.version(), req.keep_alive(), e.status(), e.code(), e.what()), nullptr};
  } catch (const std::exception& e) {
    return {error_response(req.version(), req.keep_alive(), http::status::internal_server_error, "internal_error",
                           e.what()),
            nullptr};
  }
}

}  // namespace cxr::server
