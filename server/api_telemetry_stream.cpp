// GET /api/v1/jobs/{id}/telemetry/stream: a fine-tune job's training telemetry
// (models/train_telemetry.h; the job appends it to
// <store>/telemetry/<id>/telemetry.jsonl) as Server-Sent Events, for the Inside
// page's live per-layer charts:
//   event: telemetry   one record: the file's line as written (step, epoch, lr,
//                      loss, layers with grad_norm, update_ratio, ...)
//   event: end         {} once the job has ended and every record was sent; then
//                      the server closes the stream
// and a comment line (": keep-alive") after 15 s without events. A subscriber gets
// every record from the first, so a late one draws the whole run.
//
// Bounded: at most kMaxTelemetryStreams open at once (503 too_many_streams), at
// most kRecordsPerPoll records per poll of the session (every 100 ms).
#include "server/api.h"
#include "server/jobs.h"

#include "models/train_telemetry.h"

#include <fmt/format.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <fstream>

namespace cxr::server {

namespace {

constexpr int kMaxTelemetryStreams = 8;
constexpr int kRecordsPerPoll = 64;
constexpr auto kKeepAlive = std::chrono::seconds(15);

std::atomic<int> g_open_streams{0};

// Follows the telemetry file by byte offset (the session's cursor). Whether the
// job has ended comes from the job's own event stream (server/jobs.h), which
// ends after the job's final event; the job writes its last record before that.
class TelemetryStream : public EventStream {
 public:
  TelemetryStream(std::shared_ptr<EventStream> job_events, std::filesystem::path file)
      : job_events_(std::move(job_events)), file_(std::move(file)) {}
  ~TelemetryStream() override { --g_open_streams; }
  TelemetryStream(const TelemetryStream&) = delete;
  TelemetryStream& operator=(const TelemetryStream&) = delete;

  bool poll(std::size_t& cursor, std::string& out) override {
    std::string job_events;                                              // only its end matters here
    const bool job_ended = !job_events_->poll(job_cursor_, job_events);  // before reading: no record is missed
    const std::size_t before = out.size();
    bool all_read = true;
    if (std::ifstream in(file_, std::ios::binary); in) {
      in.seekg(static_cast<std::streamoff>(cursor));
      std::string line;
      for (int n = 0;; ++n) {
        if (n == kRecordsPerPoll) {
          all_read = false;
          break;
        }
        if (!std::getline(in, line) || in.eof()) break;  // none, or a line still being written
        cursor += line.size() + 1;
        if (!line.empty()) out += fmt::format("event: telemetry\ndata: {}\n\n", line);
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (job_ended && all_read) {
      out += "event: end\ndata: {}\n\n";
      return false;
    }
    if (out.size() > before) {
      last_output_ = now;
    } else if (now - last_output_ > kKeepAlive) {
      out += ": keep-alive\n\n";
      last_output_ = now;
    }
    return true;
  }

 private:
  std::shared_ptr<EventStream> job_events_;
  std::size_t job_cursor_ = 0;
  std::filesystem::path file_;
  std::chrono::steady_clock::time_point last_output_ = std::chrono::steady_clock::now();
};

}  // namespace

Reply get_job_telemetry_stream(App& app, const Request& req, const std::string& id) {
  if (!app.jobs)
    throw HttpError(http::status::service_unavailable, "no_training", "this server runs without fine-tuning");
  require_token(app, req);
  std::int64_t job = 0;
  const auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), job);
  auto job_events = ec == std::errc() && end == id.data() + id.size() ? app.jobs->events(job) : nullptr;
  if (!job_events) throw HttpError(http::status::not_found, "not_found", fmt::format("no job '{}'", id));
  if (g_open_streams.fetch_add(1) >= kMaxTelemetryStreams) {
    --g_open_streams;
    throw HttpError(http::status::service_unavailable, "too_many_streams",
                    fmt::format("{} telemetry streams are open already; close one", kMaxTelemetryStreams));
  }
  auto stream = std::make_shared<TelemetryStream>(std::move(job_events),
                                                  require_store(app).dir() / "telemetry" / id / kTelemetryFile);
  // The head only: no Content-Length, so the body is the events until the server closes.
  Response res{http::status::ok, req.version()};
  res.set(http::field::server, "cxr");
  res.set(http::field::content_type, "text/event-stream");
  res.set(http::field::cache_control, "no-store");
  res.set("X-Accel-Buffering", "no");
  res.keep_alive(false);
  return {std::move(res), std::move(stream)};
}

}  // namespace cxr::server
