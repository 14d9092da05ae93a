#include "server/router.h"

#include "server/access_log.h"
#include "server/api.h"
#include "server/decode_gate.h"
#include "server/host_check.h"
#include "server/static_files.h"
#include "server/url.h"

#include "base/check.h"

#include <fmt/format.h>

namespace cxr::server {

namespace {

// A 405 names the methods the resource has (RFC 9110 15.5.6: the Allow header).
class MethodNotAllowed : public HttpError {
 public:
  MethodNotAllowed(const Request& req, std::string allow)
      : HttpError(http::status::method_not_allowed, "method_not_allowed",
                  fmt::format("{} is not allowed on {} (allowed: {})", std::string(req.method_string()),
                              std::string(req.target()), allow)),
        allow_(std::move(allow)) {}
  const std::string& allow() const { return allow_; }

 private:
  std::string allow_;
};

[[noreturn]] void method_not_allowed(const Request& req, std::string allow) {
  throw MethodNotAllowed(req, allow);
}

Reply route(App& app, const Request& req) {
  require_allowed_host(req, app.allowed_hosts);
  const auto target = parse_target(req.target());
  if (!target) throw HttpError(http::status::bad_request, "bad_target", "malformed request target");
  const auto& s = target->segments;
  const auto method = req.method();

  if (s.size() >= 2 && s[0] == "api" && s[1] == "v1") {
    const std::string resource = s.size() > 2 ? s[2] : "";
    if (s.size() == 3 && resource == "health") {
      if (method != http::verb::get) method_not_allowed(req, "GET");
      return {get_health(app, req), nullptr};
    }
    if (s.size() == 3 && resource == "model") {
      if (method != http::verb::get) method_not_allowed(req, "GET");
      return {get_model(app, req), nullptr};
    }
    if (s.size() == 3 && resource == "explain-methods") {
      if (method != http::verb::get) method_not_allowed(req, "GET");
      return {get_explain_methods(app, req), nullptr};
    }
    if (s.size() == 3 && resource == "predict") {
      if (method != http::verb::post) method_not_allowed(req, "POST");
      return {post_predict(app, req, *target), nullptr};
    }
    if (resource == "inspect" && s.size() == 6 && s[3] == "step" && s[5] == "tensor") {
      if (method != http::verb::get) method_not_allowed(req, "GET");
      return {get_inspect_tensor(app, req, s[4], *target), nullptr};
    }
    if (resource == "inspect" && (s.size() == 3 || (s.size() == 4 && s[3] == "step"))) {
      if (method != http::verb::post) method_not_allowed(req, "POST");
      return {s.size() == 3 ? post_inspect(app, req, *target) : post_inspect_step(app, req, *target), nullptr};
    }
    if (s.size() == 3 && resource == "segment") {
      if (method != http::verb::post) method_not_allowed(req, "POST");
      return {post_segment(app, req), nullptr};
    }
    if (resource == "samples") {
      if (s.size() == 3 && method == http::verb::post) return {post_sample(app, req, *target), nullptr};
      if (s.size() == 3 && method == http::verb::get) return {get_samples(app, req, *target), nullptr};
      if (s.size() == 4 && method == http::verb::delete_) return {delete_sample(app, req, s[3]), nullptr};
      if (s.size() == 5 && s[4] == "image" && method == http::verb::get)
        return {get_sample_image(app, req, s[3]), nullptr};
      if (s.size() == 3) method_not_allowed(req, "GET, POST");
      if (s.size() == 4) method_not_allowed(req, "DELETE");
      if (s.size() == 5 && s[4] == "image") method_not_allowed(req, "GET");
    }
    if (resource == "models") {
      if (s.size() == 3 && method == http::verb::get) return {get_models(app, req), nullptr};
      if (s.size() == 5 && s[4] == "activate" && method == http::verb::post)
        return {post_activate(app, req, s[3]), nullptr};
      if (s.size() == 3) method_not_allowed(req, "GET");
      if (s.size() == 5 && s[4] == "activate") method_not_allowed(req, "POST");
    }
    if (s.size() == 3 && resource == "train") {
      if (method != http::verb::post) method_not_allowed(req, "POST");
      return {post_train(app, req), nullptr};
    }
    if (resource == "jobs") {
      if (s.size() == 3 && method == http::verb::get) return {get_jobs(app, req, *target), nullptr};
      if (s.size() == 4 && method == http::verb::get) return {get_job(app, req, s[3]), nullptr};
      if (s.size() == 4 && method == http::verb::delete_) return {delete_job(app, req, s[3]), nullptr};
      if (s.size() == 5 && s[4] == "events" && method == http::verb::get) return get_job_events(app, req, s[3]);
      const bool telemetry_stream = s.size() == 6 && s[4] == "telemetry" && s[5] == "stream";
      if (telemetry_stream && method == http::verb::get) return get_job_telemetry_stream(app, req, s[3]);
      if (telemetry_stream) method_not_allowed(req, "GET");
      if (s.size() == 3) method_not_allowed(req, "GET");
      if (s.size() == 4) method_not_allowed(req, "GET, DELETE");
      if (s.size() == 5 && s[4] == "events") method_not_allowed(req, "GET");
    }
    if (s.size() == 3 && resource == "openapi.yaml") {
      if (method != http::verb::get && method != http::verb::head) method_not_allowed(req, "GET, HEAD");
      return {file_response(req, app.openapi), nullptr};
    }
    throw HttpError(http::status::not_found, "not_found", fmt::format("no API endpoint {}", target->path));
  }

  if (method != http::verb::get && method != http::verb::head) method_not_allowed(req, "GET, HEAD");
  if (target->path == "/docs/openapi.yaml") return {file_response(req, app.openapi), nullptr};
  const auto file = resolve_static(app.web_root, target->path);
  if (!file) throw HttpError(http::status::not_found, "not_found", fmt::format("no file {}", target->path));
  return {file_response(req, *file), nullptr};
}

// An error reply; to HEAD without its body (RFC 9110 9.3.2), the length kept.
Response error_reply(const Request& req, http::status status, std::string_view code, std::string_view message) {
  Response res = error_response(req.version(), req.keep_alive(), status, code, message);
  if (req.method() == http::verb::head) res.body().clear();
  return res;
}

}  // namespace

Reply handle(App& app, const Request& req) {
  try {
    return route(app, req);
  } catch (const MethodNotAllowed& e) {
    Reply reply{error_reply(req, e.status(), e.code(), e.what()), nullptr};
    reply.response.set(http::field::allow, e.allow());
    return reply;
  } catch (const ServiceBusy& e) {
    Reply reply{error_reply(req, e.status(), e.code(), e.what()), nullptr};
    reply.response.set(http::field::retry_after, std::to_string(e.retry_after_seconds()));
    return reply;
  } catch (const HttpError& e) {
    return {error_reply(req, e.status(), e.code(), e.what()), nullptr};
  } catch (const std::exception& e) {
    // The details (file paths, library messages) go to the log, not to the client.
    fmt::print(stderr, "cxr serve: internal error on {} {}: {}\n", std::string(req.method_string()),
               loggable_path(req.target()), e.what());
    return {error_reply(req, http::status::internal_server_error, "internal_error",
                        "the server failed to answer this request (details are in its log)"),
            nullptr};
  }
}

}  // namespace cxr::server
