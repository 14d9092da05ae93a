// GET /api/v1/explain-methods: the explanation methods POST /predict?explain= takes,
// from the one registry (models/explain/registry.h), for the UI's list.
#include "server/api.h"

#include "models/explain/registry.h"

namespace cxr::server {

Response get_explain_methods(App&, const Request& req) {
  json::array methods;
  for (const ExplanationMethod& m : explanation_methods())
    methods.push_back(json::object{{"name", m.name}, {"family", m.family}, {"description", m.description}});
  return json_response(req, http::status::ok, json::object{{"methods", std::move(methods)}});
}

}  // namespace cxr::server
