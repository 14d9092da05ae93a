// The JSON API under /api/v1 (docs/openapi.yaml describes it). Each handler
// reads the request, throws HttpError for bad input, and returns the response.
#pragma once

#include "server/app.h"
#include "server/http.h"
#include "server/multipart.h"
#include "server/router.h"
#include "server/url.h"

namespace cxr::server {

Response get_health(App& app, const Request& req);
Response get_model(App& app, const Request& req);
Response post_predict(App& app, const Request& req, const Target& target);
Response post_inspect(App& app, const Request& req, const Target& target);
Response post_inspect_step(App& app, const Request& req, const Target& target);
// api_inspect_tensor.cpp: one whole tensor (a range of its values) of a kept step.
Response get_inspect_tensor(App& app, const Request& req, const std::string& step_id, const Target& target);
Response get_explain_methods(App& app, const Request& req);
Response post_segment(App& app, const Request& req);  // api_segment.cpp: CT infection segmentation

Response post_sample(App& app, const Request& req, const Target& target);
Response get_samples(App& app, const Request& req, const Target& target);
Response get_sample_image(App& app, const Request& req, const std::string& id);
Response delete_sample(App& app, const Request& req, const std::string& id);
Response get_models(App& app, const Request& req);
Response post_activate(App& app, const Request& req, const std::string& id);

Response post_train(App& app, const Request& req);
Response get_jobs(App& app, const Request& req, const Target& target);
Response get_job(App& app, const Request& req, const std::string& id);
Response delete_job(App& app, const Request& req, const std::string& id);
Reply get_job_events(App& app, const Request& req, const std::string& id);
Reply get_job_telemetry_stream(App& app, const Request& req, const std::string& id);

// Throws HttpError 401 unless the request carries the store's bearer token.
void require_token(App& app, const Request& req);
Store& require_store(App& app);
// The image bytes of an upload: the raw body (image/png, image/jpeg,
// application/octet-stream) or the "image" field of multipart/form-data (parsed into `parts`).
std::string_view upload_bytes(const Request& req, std::vector<FormPart>& parts);

// Shared helpers of the handlers.
json::object model_summary(const ServedModel& model);
// A class given by name or index; throws HttpError (400 unknown_class).
int parse_class(const ModelInfo& info, const std::string& value);

}  // namespace cxr::server
