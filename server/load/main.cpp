// cxr-load: drives a running `cxr serve` with concurrent predictions and prints
// latency percentiles, throughput and the batch sizes the server reported.
//   cxr-load --port 8080 --clients 16 --requests 400 [--image X.png ...] [--explain gradcam]
//            [--latencies FILE]
// Without --image it sends synthetic 512 x 512 grey PNGs. Exit status 1 when any
// answer failed or was malformed.
#include "server/load/load_generator.h"

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <fstream>
#include <iterator>

int main(int argc, char** argv) {
  cxr::load::LoadOptions o;
  std::vector<std::string> image_files;
  std::string explain = "gradcam";
  std::string latencies_file;
  int port = o.port;
  CLI::App app{"cxr-load: concurrent POST /api/v1/predict against a running cxr serve"};
  app.add_option("--host", o.host, "server address")->capture_default_str();
  app.add_option("--port", port, "server port")->check(CLI::Range(1, 65535))->capture_default_str();
  app.add_option("--clients", o.clients, "concurrent keep-alive connections")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--requests", o.requests, "answers in all")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--image", image_files, "PNG or JPEG files to send in turn (default: synthetic PNGs)")
      ->check(CLI::ExistingFile);
  app.add_option("--explain", explain, "gradcam, gradcam++ or none")
      ->check(CLI::IsMember({"gradcam", "gradcam++", "none"}))
      ->capture_default_str();
  app.add_option("--latencies", latencies_file,
                 "also write each answered request's latency in ms to this file, one a line, appended");
  CLI11_PARSE(app, argc, argv);

  o.port = static_cast<unsigned short>(port);
  o.target = "/api/v1/predict?explain=" + std::string(explain == "gradcam++" ? "gradcam%2B%2B" : explain);
  for (const auto& file : image_files) {
    std::ifstream in(file, std::ios::binary);
    o.images.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (o.images.empty())
    for (int i = 0; i < 8; ++i) o.images.push_back(cxr::load::synthetic_xray_png(512, 512, i));
  o.content_type = "application/octet-stream";  // PNG and JPEG alike

  const cxr::load::LoadReport report = cxr::load::run_load(o);
  fmt::print("cxr-load: {} client(s), {}\n", o.clients, report.summary());
  if (!latencies_file.empty()) {
    std::ofstream out(latencies_file, std::ios::app);
    for (const double ms : report.latencies_ms) out << fmt::format("{:.3f}\n", ms);
    if (!out) {
      fmt::print(stderr, "cxr-load: cannot write {}\n", latencies_file);
      return 1;
    }
  }
  return report.errors == 0 ? 0 : 1;
}
