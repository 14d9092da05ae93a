// What the request handlers share: the services behind the API and the folders
// the server reads. Owned by the Server; handlers get a reference.
#pragma once

#include "server/decode_gate.h"
#include "server/host_check.h"
#include "server/inference.h"
#include "server/inspected_steps.h"
#include "server/store.h"

#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

namespace cxr::server {

class Jobs;
class Segmenter;

struct App {
  InferenceService* inference = nullptr;
  Store* store = nullptr;          // samples, model versions, the token
  Jobs* jobs = nullptr;            // fine-tune jobs (needs the store)
  Segmenter* segmenter = nullptr;  // CT segmentation (server/segmenter.h); null: none loaded
  std::mutex activation;           // the store's active flag and the served model change together
  std::filesystem::path web_root;  // the only folder served as static files
  std::filesystem::path openapi;   // docs/openapi.yaml
  std::vector<std::string> allowed_hosts = default_allowed_hosts();  // Host names answered (cxr serve --allowed-host)
  Device device = Device::cpu();                                     // where served models compute (cxr serve --device)
  DecodeGate decodes;                                                // the cap on uploads decoded at once
  InspectedSteps inspected_steps;  // the Inside page's last training steps, whole (server/inspected_steps.h)
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

// Loads a stored model version for serving on `device` (throws cxr::Error when the file is bad).
std::shared_ptr<const ServedModel> load_served_model(const ModelRecord& record, Device device = Device::cpu());

// Serves a stored version from now on: loads it first, so a file that fails to load
// (cxr::Error) leaves the active version as it was; then the store's active flag and
// the served model change together, under app.activation.
void activate(App& app, const ModelRecord& record);

}  // namespace cxr::server
