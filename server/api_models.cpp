// Model versions: GET /api/v1/models and POST /api/v1/models/{id}/activate.
#include "server/api.h"

#include <fmt/format.h>

namespace cxr::server {

std::shared_ptr<const ServedModel> load_served_model(const ModelRecord& record, Device device) {
  auto served = std::make_shared<ServedModel>();
  served->version = record.id;
  served->model = load_model(record.file);
  served->model.params->to(device);
  served->gate = load_gate_for(record.file);
  served->metrics = json::parse(record.metrics).as_object();
  return served;
}

void activate(App& app, const ModelRecord& record) {
  auto served = load_served_model(record, app.device);
  std::lock_guard lock(app.activation);
  app.store->set_active(record.id);
  app.inference->set_model(std::move(served));
}

Response get_models(App& app, const Request& req) {
  require_token(app, req);  // the versions' metrics describe the private samples they were tuned on
  json::array models;
  for (const auto& m : require_store(app).models())
    models.push_back(json::object{{"id", m.id},
                                  {"parent", m.parent},
                                  {"created_at", m.created_at},
                                  {"metrics", json::parse(m.metrics)},
                                  {"active", m.active}});
  return json_response(req, http::status::ok,
                       {{"active", app.inference->model()->version}, {"models", std::move(models)}});
}

Response post_activate(App& app, const Request& req, const std::string& id) {
  require_token(app, req);
  Store& store = require_store(app);
  const auto record = store.model(id);
  if (!record) throw HttpError(http::status::not_found, "not_found", fmt::format("no model version '{}'", id));
  activate(app, *record);
  return json_response(req, http::status::ok, {{"active", id}});
}

}  // namespace cxr::server
