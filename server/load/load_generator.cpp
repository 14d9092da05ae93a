#include "server/load/load_generator.h"

#include "engine/random.h"

#include <fmt/format.h>
#include <stb/stb_image_write.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <thread>

namespace cxr::load {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxErrorSamples = 5;

// "data:image/png;base64," followed by the base64 of the PNG signature.
constexpr std::string_view kPngDataUrl = "data:image/png;base64,iVBORw0KGgo";

bool is_base64(std::string_view s) {
  if (s.size() % 4 != 0) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool pad = c == '=' && i + 2 >= s.size();
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || pad)) return false;
  }
  return true;
}

struct Checked {
  std::string error;  // "" when the answer is well-formed
  int batch_size = 0;
  ServerTimings server;
};

// The nearest-rank percentile p of values (0 when empty).
double nearest_rank(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100 * static_cast<double>(values.size())));
  return values[std::clamp<std::size_t>(rank, 1, values.size()) - 1];
}

std::string check_explanation(const json::object& e, std::size_t classes) {
  if (!e.contains("method") || !e.at("method").is_string()) return "explanation without a method";
  if (!e.contains("class") || !e.at("class").is_string()) return "explanation without a class";
  if (!e.contains("class_index") || !e.at("class_index").is_int64() || e.at("class_index").as_int64() < 0 ||
      (classes > 0 && e.at("class_index").as_int64() >= static_cast<std::int64_t>(classes)))
    return "explanation with a bad class_index";
  const json::object* grid = e.contains("grid") ? e.at("grid").if_object() : nullptr;
  if (grid == nullptr || !grid->contains("height") || !grid->contains("width") || !grid->contains("values") ||
      !grid->at("values").is_array())
    return "explanation without a grid";
  const std::int64_t h = grid->at("height").to_number<std::int64_t>(), w = grid->at("width").to_number<std::int64_t>();
  const json::array& values = grid->at("values").as_array();
  if (h < 1 || w < 1 || static_cast<std::int64_t>(values.size()) != h * w)
    return fmt::format("grid {}x{} with {} values", h, w, values.size());
  double peak = 0;
  for (const auto& v : values) {
    const double x = v.to_number<double>();
    if (!(x >= 0 && x <= 1)) return fmt::format("grid value {} outside [0, 1]", x);
    peak = std::max(peak, x);
  }
  if (peak != 0 && std::abs(peak - 1) > 1e-6) return fmt::format("grid maximum {} is neither 0 nor 1", peak);
  if (!e.contains("heatmap_png")) return "explanation without heatmap_png";
  for (const char* key : {"overlay_png", "heatmap_png"}) {  // overlay_png only with ?overlay=true
    if (!e.contains(key)) continue;
    if (!e.at(key).is_string()) return fmt::format("{} is not a string", key);
    const std::string_view url = e.at(key).as_string();
    if (!url.starts_with(kPngDataUrl) || !is_base64(url.substr(kPngDataUrl.size() - 11)))
      return fmt::format("{} is not a base64 PNG data: URL", key);
  }
  return "";
}

Checked inspect(const std::string& body, bool explained, const std::vector<std::string>& classes) {
  Checked out;
  json::value doc;
  try {
    doc = json::parse(body);
  } catch (const std::exception& e) {
    out.error = fmt::format("not JSON: {}", e.what());
    return out;
  }
  const json::object* o = doc.if_object();
  if (o == nullptr) return {"not a JSON object", 0};
  try {
    const json::array& probs = o->at("probabilities").as_array();
    if (probs.empty() || (!classes.empty() && probs.size() != classes.size()))
      return {fmt::format("{} probabilities for {} classes", probs.size(), classes.size()), 0};
    double sum = 0, best = -1;
    std::size_t argmax = 0;
    for (std::size_t c = 0; c < probs.size(); ++c) {
      const std::string name(probs[c].at("class").as_string());
      const double p = probs[c].at("probability").to_number<double>();
      if (!classes.empty() && name != classes[c]) return {fmt::format("class {} is '{}'", c, name), 0};
      if (!(p >= 0 && p <= 1)) return {fmt::format("probability {} outside [0, 1]", p), 0};
      sum += p;
      if (p > best) {
        best = p;
        argmax = c;
      }
    }
    // float32 softmax, printed as double: sums to 1 within a few float32 ulps.
    if (std::abs(sum - 1) > 1e-5) return {fmt::format("probabilities sum to {}", sum), 0};
    const std::int64_t label = o->at("label_index").as_int64();
    if (label < 0 || label >= static_cast<std::int64_t>(probs.size()) ||
        probs[label].at("probability").to_number<double>() != best ||
        o->at("label").as_string() != probs[label].at("class").as_string())
      return {fmt::format("label_index {} is not the most probable class {}", label, argmax), 0};
    if (!o->at("model").is_string()) return {"model is not a string", 0};
    out.batch_size = static_cast<int>(o->at("batch_size").as_int64());
    if (out.batch_size < 1) return {fmt::format("batch_size {}", out.batch_size), 0};
    const json::object& timings = o->at("timings_ms").as_object();
    out.server = {timings.at("decode").to_number<double>(), timings.at("queue").to_number<double>(),
                  timings.at("compute").to_number<double>(), timings.at("total").to_number<double>()};
    const ServerTimings& t = out.server;
    // The stages follow each other inside the total (server/api_predict.cpp); 1e-6 ms
    // covers the rounding of adding three doubles.
    if (!(t.decode_ms >= 0 && t.queue_ms >= 0 && t.compute_ms >= 0 &&
          t.decode_ms + t.queue_ms + t.compute_ms <= t.total_ms + 1e-6))
      return {fmt::format("timings_ms decode {} + queue {} + compute {} exceed total {}", t.decode_ms, t.queue_ms,
                          t.compute_ms, t.total_ms),
              0};
    if (explained != o->contains("explanation"))
      return {explained ? "no explanation" : "an explanation that was not asked for", 0};
    if (explained) out.error = check_explanation(o->at("explanation").as_object(), probs.size());
  } catch (const std::exception& e) {
    out.error = fmt::format("missing or mistyped field: {}", e.what());
  }
  return out;
}

struct Shared {
  const LoadOptions& options;
  bool explained;
  std::atomic<int> next{0};
  std::mutex mutex;
  LoadReport report;

  void record(double ms, const Checked& checked) {
    std::lock_guard lock(mutex);
    ++report.requests;
    if (checked.error.empty()) {
      report.latencies_ms.push_back(ms);
      report.server.push_back(checked.server);
      ++report.batch_sizes[checked.batch_size];
      return;
    }
    ++report.errors;
    if (report.error_samples.size() < kMaxErrorSamples) report.error_samples.push_back(checked.error);
  }
};

void client(Shared& shared) {
  const LoadOptions& o = shared.options;
  asio::io_context ioc;
  asio::ip::tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  beast::flat_buffer buffer;
  bool connected = false;
  for (int i = shared.next++; i < o.requests; i = shared.next++) {
    http::request<http::string_body> req{http::verb::post, o.target, 11};
    req.set(http::field::host, o.host);
    req.set(http::field::content_type, o.content_type);
    req.keep_alive(true);
    req.body() = o.images[static_cast<std::size_t>(i) % o.images.size()];
    req.prepare_payload();
    const auto start = Clock::now();
    Checked checked;
    try {
      if (!connected) {
        stream.expires_after(o.timeout);
        stream.connect(resolver.resolve(o.host, std::to_string(o.port)));
        buffer.clear();
        connected = true;
      }
      stream.expires_after(o.timeout);
      http::write(stream, req);
      http::response_parser<http::string_body> parser;
      parser.body_limit(256u << 20);
      http::read(stream, buffer, parser);
      const auto& res = parser.get();
      if (res.result() != http::status::ok)
        checked.error = fmt::format("HTTP {}: {}", res.result_int(), res.body().substr(0, 300));
      else if (res[http::field::content_type] != "application/json")
        checked.error = fmt::format("Content-Type '{}'", std::string(res[http::field::content_type]));
      else
        checked = inspect(res.body(), shared.explained, o.classes);
      if (!res.keep_alive()) {
        beast::error_code ec;
        stream.socket().close(ec);
        connected = false;
      }
    } catch (const std::exception& e) {
      checked.error = fmt::format("connection: {}", e.what());
      beast::error_code ec;
      stream.socket().close(ec);
      connected = false;
    }
    shared.record(std::chrono::duration<double, std::milli>(Clock::now() - start).count(), checked);
  }
  beast::error_code ec;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
}

}  // namespace

double LoadReport::percentile(double p) const {
  return nearest_rank(latencies_ms, p);
}

double LoadReport::server_percentile(double ServerTimings::*stage, double p) const {
  std::vector<double> values;
  values.reserve(server.size());
  for (const ServerTimings& t : server) values.push_back(t.*stage);
  return nearest_rank(std::move(values), p);
}

std::string LoadReport::summary() const {
  std::string batches;
  for (const auto& [size, count] : batch_sizes) batches += fmt::format(" {}:{}", size, count);
  std::string out = fmt::format(
      "{} requests, {} errors in {:.2f} s: {:.1f} requests/s; latency p50 {:.1f} ms, p90 {:.1f} ms, p95 {:.1f} ms, "
      "p99 {:.1f} ms, "
      "max {:.1f} ms; batch size:count{}",
      requests, errors, wall_s, throughput(), percentile(50), percentile(90), percentile(95), percentile(99),
      percentile(100), batches);
  out += "; server p50/p95";
  for (const auto& [name, stage] :
       {std::pair{"decode", &ServerTimings::decode_ms}, std::pair{"queue", &ServerTimings::queue_ms},
        std::pair{"compute", &ServerTimings::compute_ms}, std::pair{"total", &ServerTimings::total_ms}})
    out += fmt::format(" {} {:.1f}/{:.1f}", name, server_percentile(stage, 50), server_percentile(stage, 95));
  out += " ms";
  for (const auto& e : error_samples) out += "\n  error: " + e;
  return out;
}

std::string check_prediction(const std::string& body, bool explained, const std::vector<std::string>& classes) {
  return inspect(body, explained, classes).error;
}

LoadReport run_load(const LoadOptions& options) {
  if (options.images.empty() || options.clients < 1) {
    LoadReport empty;
    empty.error_samples.push_back("no images or no clients");
    empty.errors = empty.requests = options.requests;
    return empty;
  }
  Shared shared{options, options.target.find("explain=none") == std::string::npos};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < options.clients; ++c) threads.emplace_back([&shared] { client(shared); });
  for (auto& t : threads) t.join();
  shared.report.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  return std::move(shared.report);
}

std::string synthetic_xray_png(int width, int height, std::uint64_t seed) {
  std::vector<std::uint8_t> px(static_cast<std::size_t>(width) * height);
  Generator gen(seed);
  const double shift = 0.05 * (gen.uniform() - 0.5);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const double u = (x + 0.5) / width - 0.5 + shift, v = (y + 0.5) / height - 0.5;
      const bool lung = std::abs(std::abs(u) - 0.2) < 0.12 && std::abs(v) < 0.3;
      const double base = lung ? 60 + 40 * v : 170 - 80 * (u * u + v * v);
      px[static_cast<std::size_t>(y) * width + x] =
          static_cast<std::uint8_t>(std::clamp(base + 6 * gen.normal(), 0.0, 255.0));
    }
  std::string out;
  stbi_write_png_to_func(
      [](void* context, void* data, int size) {
        static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<std::size_t>(size));
      },
      &out, width, height, 1, px.data(), width);
  return out;
}

}  // namespace cxr::load
