// `cxr serve`: the web application (server/): the browser UI from web/, the JSON
// API under /api/v1, a store of added samples and model versions, fine-tune jobs
// on the base dataset (--data) and the added samples.
#include "app/commands.h"
#include "base/check.h"
#include "base/parallel.h"
#include "models/bundled_files.h"
#include "models/device_choice.h"
#include "models/evaluation_file.h"
#include "models/inference.h"
#include "server/jobs.h"
#include "server/segmenter.h"
#include "server/server.h"
#include "server/store.h"

#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

namespace cxr::cli {

namespace {

struct ServeOptions {
  std::string model;  // empty: the store's active version, else the bundled model
  std::string store = "var";
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string device = "cpu";
  int threads = 0;
  std::string data;       // base dataset of fine-tuning (a `cxr data build` directory); empty: samples only
  int train_threads = 0;  // 0: half the cores, at least 1
  std::string web;        // empty: the bundled web/ (models/bundled_files.h)
  std::vector<std::string> allowed_hosts;  // Host names answered besides the loopback ones
  std::string seg_model;                   // CT segmentation; empty: the bundled one when present
};

// The version to serve: --model (stored as a version and activated), else the
// store's active one, else on first start $CXR_MODEL or the bundled model (as for
// `cxr predict`); a newly stored version takes the metrics of the evaluation beside
// its file.
server::ModelRecord choose_model(server::Store& store, const ServeOptions& o) {
  std::string file = o.model;
  if (file.empty()) {
    if (auto active = store.active_model()) return *active;
    file = default_model_path();
    CXR_CHECK(std::filesystem::exists(file), "serve: no model: pass --model FILE (the default model {} is missing)",
              file);
  }
  // Its test metrics, when `cxr eval --json` left them beside it (the bundled model's
  // are); a broken evaluation file costs the metrics, not the start.
  std::string metrics = "{}";
  try {
    if (auto m = read_evaluation_beside(file)) metrics = boost::json::serialize(*m);
  } catch (const Error& e) {
    fmt::print(stderr, "cxr serve: warning: {}; the model is served without test metrics\n", e.what());
  }
  const server::ModelRecord record = store.add_model(file, "", metrics);
  store.set_active(record.id);
  return *store.model(record.id);
}

void serve(const ServeOptions& o) {
  const Device device = resolve_device(o.device);
  if (o.threads > 0) set_num_threads(o.threads);

  server::Store store(o.store);
  if (const char* chosen = std::getenv("CXR_TOKEN"); chosen && *chosen) {
    store.set_token(chosen);
    fmt::print("cxr serve: store {}; its API token is $CXR_TOKEN's\n", std::filesystem::absolute(o.store).string());
  } else if (const auto token = store.create_token_if_missing()) {
    fmt::print(
        "cxr serve: new store {}; API token for adding samples, fine-tuning and activating models "
        "(shown once, keep it):\n  {}\n",
        std::filesystem::absolute(o.store).string(), *token);
  }
  const auto served = server::load_served_model(choose_model(store, o), device);
  server::InferenceService inference(served);
  server::App app;
  app.inference = &inference;
  app.store = &store;
  app.web_root = o.web.empty() ? bundled_files().web.string() : o.web;
  app.device = device;
  app.openapi = bundled_files().openapi.string();
  app.allowed_hosts.insert(app.allowed_hosts.end(), o.allowed_hosts.begin(), o.allowed_hosts.end());
  const std::string seg_model = o.seg_model.empty() ? server::bundled_seg_model_path() : o.seg_model;
  std::unique_ptr<server::Segmenter> segmenter;
  if (!seg_model.empty()) segmenter = std::make_unique<server::Segmenter>(seg_model);
  app.segmenter = segmenter.get();
  // Training gets a thread pool of its own, half the cores by default: predictions
  // keep the shared pool and never wait for a training step.
  server::JobsOptions jobs_options;
  jobs_options.base_data = o.data;
  jobs_options.threads =
      o.train_threads > 0 ? o.train_threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / 2);
  server::Jobs jobs(app, jobs_options);
  app.jobs = &jobs;
  fmt::print("cxr serve: fine-tuning on {} with {} thread(s)\n",
             o.data.empty() ? std::string("the added samples alone (no --data)")
                            : "the dataset " + o.data + " and the added samples",
             jobs_options.threads);
  server::ServerOptions options;
  options.host = o.host;
  options.port = static_cast<unsigned short>(o.port);
  server::Server server(app, options);
  server.start();
  fmt::print("cxr serve: http://{}:{}/  (model {}, {} classes, on {}, {} CPU threads; Ctrl-C stops)\n", o.host,
             server.port(), served->version, served->model.info.class_names.size(), device.str(), num_threads());
  std::fflush(stdout);
  server.wait_for_signal();
  fmt::print("cxr serve: stopped\n");
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "Start the web application (browser UI and JSON API)");
  cmd->add_option("--model", o->model,
                  "model file to serve (stored as a new version and activated; default: the store's active "
                  "version, else $CXR_MODEL, else the bundled model)");
  cmd->add_option("--store", o->store, "store folder: samples, model versions, token ($CXR_TOKEN: a chosen token)")
      ->capture_default_str();
  cmd->add_option("--host", o->host, "IP address to listen on")->capture_default_str();
  cmd->add_option("--port", o->port, "TCP port (0: any free port)")->check(CLI::Range(0, 65535))->capture_default_str();
  cmd->add_option("--device", o->device, kDeviceHelp)->capture_default_str();
  cmd->add_option("--threads", o->threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--seg-model", o->seg_model,
                  "CT segmentation model for POST /api/v1/segment (default: the bundled ct-seg, when present)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--allowed-host", o->allowed_hosts,
                  "a Host name to answer besides localhost, 127.0.0.1 and [::1] (repeatable; e.g. the machine's "
                  "name or address when --host is not loopback)");
  cmd->add_option("--web", o->web, "folder of the browser UI (default: the bundled one)");
  cmd->add_option("--data", o->data,
                  "base dataset of fine-tuning (a `cxr data build` directory; default: the samples alone)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--train-threads", o->train_threads, "CPU threads of fine-tuning (0: half the cores)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([o] { serve(*o); });
}

}  // namespace cxr::cli
