// GET /api/v1/health and GET /api/v1/model.
#include "server/api.h"

#include <fmt/format.h>

#include <charconv>

namespace cxr::server {

json::object model_summary(const ServedModel& served) {
  const ModelInfo& info = served.model.info;
  json::array classes;
  for (const auto& name : info.class_names) classes.emplace_back(name);
  json::object extra;
  for (const auto& [key, value] : info.extra) extra[key] = value;
  return {{"version", served.version},
          {"preset", info.preset},
          {"classes", std::move(classes)},
          {"input_size", info.config.input_size},
          {"normalization", {{"mean", info.mean}, {"stddev", info.stddev}}},
          {"fit", data::fit_name(info.fit_or_pad())},
          {"fit_size", info.fit_size()},
          {"split_seed", info.split_seed ? json::value(*info.split_seed) : json::value(nullptr)},
          {"parameters", served.model.params ? served.model.params->count() : 0},
          {"metrics", served.metrics},
          {"extra", std::move(extra)}};
}

int parse_class(const ModelInfo& info, const std::string& value) {
  for (std::size_t i = 0; i < info.class_names.size(); ++i)
    if (info.class_names[i] == value) return static_cast<int>(i);
  // The whole value is the index: "1\0x" (from "1%00x") is not class 1.
  long index = -1;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), index);
  if (ec == std::errc() && end == value.data() + value.size() && index >= 0 &&
      index < static_cast<long>(info.class_names.size()))
    return static_cast<int>(index);
  std::string names;
  for (const auto& n : info.class_names) names += (names.empty() ? "" : ", ") + n;
  throw HttpError(http::status::bad_request, "unknown_class",
                  fmt::format("unknown class '{}': expected one of {} (or an index)", value, names));
}

Response get_health(App& app, const Request& req) {
  const double uptime = std::chrono::duration<double>(std::chrono::steady_clock::now() - app.started).count();
  return json_response(
      req, http::status::ok,
      {{"status", "ok"}, {"version", CXR_VERSION}, {"model", app.inference->model()->version}, {"uptime_s", uptime}});
}

Response get_model(App& app, const Request& req) {
  return json_response(req, http::status::ok, model_summary(*app.inference->model()));
}

}  // namespace cxr::server
