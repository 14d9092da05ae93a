// An HTTP load generator for POST /api/v1/predict: `clients` keep-alive
// connections, each on its own thread, send the requests one after another (a
// client waits for its answer before sending the next) until `requests` answers
// have come back in all. Every answer is checked: status 200, JSON with one
// probability per class summing to 1, and, when explained, a grid of the stated
// size and two PNG data: URLs. Used by `cxr-load` (scripts/load-test) and
// tests/test_server_load.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace cxr::load {

struct LoadOptions {
  std::string host = "127.0.0.1";
  unsigned short port = 8080;
  int clients = 16;
  int requests = 400;  // answers in all, over every client
  std::string target = "/api/v1/predict?explain=gradcam";
  std::vector<std::string> images;  // request bodies, used in turn
  std::string content_type = "image/png";
  std::vector<std::string> classes;  // expected class names, in order; empty: not checked
  std::chrono::seconds timeout{60};  // per request
};

// The server's own account of one answer (its timings_ms): where the time went.
struct ServerTimings {
  double decode_ms = 0, queue_ms = 0, compute_ms = 0, total_ms = 0;
};

struct LoadReport {
  int requests = 0;  // answers received (or failed)
  int errors = 0;
  std::vector<std::string> error_samples;  // the first few, for the log
  std::vector<double> latencies_ms;        // of the answers that passed, in completion order
  std::vector<ServerTimings> server;       // the same answers' timings_ms, in the same order
  std::map<int, int> batch_sizes;          // batch_size of the answers -> how many
  double wall_s = 0;

  double percentile(double p) const;  // of latencies_ms (nearest rank), 0 when empty
  // The same percentile of one stage of the server's timings (e.g. &ServerTimings::queue_ms).
  double server_percentile(double ServerTimings::*stage, double p) const;
  double throughput() const { return wall_s > 0 ? (requests - errors) / wall_s : 0.0; }
  std::string summary() const;  // one human-readable paragraph
};

LoadReport run_load(const LoadOptions& options);

// What is wrong with a prediction answer ("" when nothing is): `body` is the
// response body of a 200, `explained` whether the request asked for a heatmap.
std::string check_prediction(const std::string& body, bool explained, const std::vector<std::string>& classes);

// A chest-like grey PNG (two dark lung fields in a brighter frame, film noise),
// different for each `seed`: uploads for tests and load runs without a dataset.
std::string synthetic_xray_png(int width, int height, std::uint64_t seed);

}  // namespace cxr::load
