#include "server/jobs.h"

#include "server/api.h"
#include "server/path_redaction.h"

#include "base/check.h"
#include "base/parallel.h"
#include "data/dataset_writer.h"
#include "data/labels.h"
#include "data/manifest.h"
#include "engine/data/cache_file.h"
#include "engine/io/atomic_file.h"
#include "models/dataset_eval.h"
#include "models/inference.h"
#include "models/train_state.h"
#include "models/train_telemetry.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <set>
#include <sstream>

namespace cxr::server {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kProgressInterval = std::chrono::milliseconds(250);  // progress events at most 4 a second
constexpr int kJobTelemetryEvery = 10;  // steps between telemetry records (models/train_telemetry.h)
constexpr auto kKeepAlive = std::chrono::seconds(15);

bool is_final(const std::string& state) {
  return state == "succeeded" || state == "failed" || state == "cancelled" || state == "interrupted";
}

// The event that ends a job's stream: done when it succeeded, else its state.
std::string final_event(const std::string& state) {
  return state == "succeeded" ? "done" : state;
}

std::string sse(std::string_view event, const json::value& data) {
  return fmt::format("event: {}\ndata: {}\n\n", event, json::serialize(data));
}

json::object params_json(const FineTuneParams& p) {
  return {{"epochs", p.epochs},
          {"learning_rate", p.learning_rate},
          {"unfreeze", unfreeze_name(p.unfreeze)},
          {"batch", p.batch},
          {"activate", p.activate}};
}

json::object parse_object(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  return !ec && v.is_object() ? std::move(v.as_object()) : json::object{};
}

// Thrown inside a job when its stop flag is set outside the trainer's own checks.
struct Stopped {};

}  // namespace

struct Jobs::Job {
  std::int64_t id = 0;
  std::string created_at;
  FineTuneParams params;
  std::string parent, parent_file;  // the version fine-tuned from
  std::atomic<bool> stop{false};
  std::atomic<bool> cancelled{false};  // stopped by DELETE (else by the server stopping)

  std::mutex mutex;  // guards what follows
  std::string state = "queued";
  std::string model;    // the version it produced
  json::object detail;  // everything else of the job's JSON (phase, progress, history, metrics, error)
  std::string updated_at;
  // The stream: epoch events and the final one in order; the latest progress
  // event (number progress_seq), which came after `progress_after` of those.
  std::vector<std::pair<std::string, json::object>> events;
  json::object progress_event;
  std::uint64_t progress_seq = 0;
  std::size_t progress_after = 0;
  Clock::time_point last_progress{};

  json::object to_json() const {
    json::object o = detail;
    o["id"] = id;
    o["state"] = state;
    o["model"] = model.empty() ? json::value(nullptr) : json::value(model);
    o["created_at"] = created_at;
    o["updated_at"] = updated_at;
    return o;
  }
};

namespace {

using Job = Jobs::Job;

std::shared_ptr<Job> job_from_record(const JobRecord& r) {
  auto job = std::make_shared<Job>();
  job->id = r.id;
  job->created_at = r.created_at;
  job->updated_at = r.updated_at;
  job->state = r.state;
  job->model = r.model;
  job->detail = parse_object(r.detail);
  job->detail["params"] = parse_object(r.params);
  if (is_final(r.state)) job->events.emplace_back(final_event(r.state), job->to_json());
  return job;
}

// One subscriber of a job's events: first the job as it is now ("state"), then
// progress (throttled), epoch and final events as they come; a comment line after
// 15 s of silence keeps proxies from closing the connection. The stream ends after
// the final event. `cursor` counts the job's events this subscriber has passed.
class JobEvents : public EventStream {
 public:
  explicit JobEvents(std::shared_ptr<Job> job) : job_(std::move(job)) {}

  bool poll(std::size_t& cursor, std::string& out) override {
    std::lock_guard lock(job_->mutex);
    const auto& events = job_->events;
    const std::size_t before = out.size();
    if (!started_) {
      started_ = true;
      out += sse("state", job_->to_json());
      // A late subscriber gets the history inside "state"; only the final event follows.
      cursor = is_final(job_->state) ? events.size() - 1 : events.size();
      seen_progress_ = job_->progress_seq;
    }
    const bool new_progress = job_->progress_seq > seen_progress_;
    bool progress_sent = !new_progress;
    auto send_progress = [&] {
      out += sse("progress", job_->progress_event);
      progress_sent = true;
      seen_progress_ = job_->progress_seq;
    };
    for (; cursor < events.size(); ++cursor) {
      if (!progress_sent && job_->progress_after <= cursor) send_progress();
      out += sse(events[cursor].first, events[cursor].second);
    }
    if (!progress_sent) send_progress();
    const auto now = Clock::now();
    if (out.size() > before) {
      last_output_ = now;
    } else if (now - last_output_ > kKeepAlive) {
      out += ": keep-alive\n\n";
      last_output_ = now;
    }
    return !(is_final(job_->state) && cursor == events.size());
  }

 private:
  std::shared_ptr<Job> job_;
  bool started_ = false;
  std::uint64_t seen_progress_ = 0;
  Clock::time_point last_output_ = Clock::now();
};

// Records the state and phase of a job in memory and in the store.
void set_state(Store& store, Job& job, const std::string& state, const std::string& phase) {
  std::string detail;
  {
    std::lock_guard lock(job.mutex);
    job.state = state;
    job.detail["phase"] = phase;
    detail = json::serialize(job.detail);
  }
  store.update_job(job.id, state, detail);
}

// The final state: stored, then announced.
void finish(Store& store, Job& job, const std::string& state, const std::string& model = "") {
  std::string detail;
  {
    std::lock_guard lock(job.mutex);
    job.detail["phase"] = "finished";
    detail = json::serialize(job.detail);
  }
  store.update_job(job.id, state, detail);
  const auto stored = store.job(job.id);
  std::lock_guard lock(job.mutex);
  job.state = state;
  job.model = model;
  if (stored) job.updated_at = stored->updated_at;
  job.events.emplace_back(final_event(state), job.to_json());
}

struct SampleSet {
  std::int64_t images = 0;
  std::map<std::string, std::int64_t> per_split;
};

// The stored samples as a dataset directory (cache.bin, manifest.csv, stats.json):
// decoded and fitted by the model's rules, in their fixed splits.
SampleSet write_samples_dataset(Store& store, const fs::path& dir, const ModelInfo& info,
                                const std::atomic<bool>& stop) {
  const int classes = static_cast<int>(info.class_names.size());
  const int size = info.fit_size();
  std::vector<data::ManifestRow> rows;
  std::vector<std::vector<std::uint8_t>> pixels;
  SampleSet set;
  for (const SampleRecord& s : store.all_samples()) {
    if (stop) throw Stopped{};
    const auto label = data::class_index(s.label, classes);
    if (!label) continue;  // a label of another model's classes
    std::ifstream in(store.image_path(s.sha256), std::ios::binary);
    CXR_CHECK(in, "the image of sample {} is missing from the store", s.id);
    const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    PreparedImage p = prepare_image(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()), info);
    pixels.push_back(std::move(p.fitted.pixels));
    data::ManifestRow row;
    row.id = static_cast<std::int64_t>(rows.size());
    row.source = data::Source::upload;
    row.source_path = fmt::format("samples/{}", s.id);
    row.patient = "upload:" + (s.patient_id.empty() ? s.sha256 : s.patient_id);
    row.label = *label;
    row.split = *data::split_from_name(s.split);
    row.sha256 = s.sha256;
    rows.push_back(std::move(row));
    ++set.per_split[s.split];
  }
  set.images = static_cast<std::int64_t>(rows.size());
  if (rows.empty()) return set;
  fs::create_directories(dir);
  data::write_dataset(
      dir, rows, {static_cast<std::uint64_t>(rows.size()), size, classes, info.mean, info.stddev},
      [&](std::size_t k) { return pixels[k].data(); },
      json::object{{"settings", {{"fit", data::fit_name(info.fit_or_pad())}}}});
  return set;
}

}  // namespace

Jobs::Jobs(App& app, JobsOptions options) : app_(app), options_(std::move(options)) {
  CXR_CHECK(app_.store != nullptr && app_.inference != nullptr, "jobs: need a store and an inference service");
  CXR_CHECK(options_.threads >= 1 && options_.loader_workers >= 0, "jobs: need at least 1 thread");
  if (!options_.base_data.empty()) base_ = data::Dataset::open(options_.base_data);
  app_.store->interrupt_unfinished_jobs();
  std::error_code ec;
  fs::remove_all(app_.store->dir() / "jobs", ec);
}

Jobs::~Jobs() {
  std::shared_ptr<Job> job;
  {
    std::lock_guard lock(mutex_);
    job = current_;
  }
  if (job) job->stop = true;
  if (worker_.joinable()) worker_.join();
}

json::object Jobs::start(const FineTuneParams& params) {
  Store& store = *app_.store;
  const auto served = app_.inference->model();
  const ModelInfo& info = served->model.info;
  const auto record = store.model(served->version);
  if (!record)
    throw HttpError(http::status::conflict, "unsupported_model",
                    fmt::format("the active model '{}' is not a stored version", served->version));
  const int classes = static_cast<int>(info.class_names.size());
  if ((classes != 3 && classes != 4) || info.class_names != data::class_names(classes))
    throw HttpError(http::status::conflict, "unsupported_model",
                    fmt::format("the active model's classes [{}] are not a dataset scheme (3 or 4 classes)",
                                fmt::join(info.class_names, ", ")));
  std::set<int> train_labels;
  std::int64_t val_images = 0;
  if (base_) {
    try {
      check_dataset_matches_model(*base_, info, options_.base_data.string(), served->version);
      CXR_CHECK(base_->fit() == info.fit_or_pad(), "{} fits images by {}, the model by {}", options_.base_data.string(),
                data::fit_name(base_->fit()), data::fit_name(info.fit_or_pad()));
    } catch (const Error& e) {
      throw HttpError(http::status::conflict, "dataset_mismatch", without_absolute_paths(e.what()));
    }
    for (auto i : base_->indices(data::Split::train)) train_labels.insert(base_->label(i));
    val_images += static_cast<std::int64_t>(base_->indices(data::Split::val).size());
  }
  const auto counts = store.split_counts();
  std::string samples_said;
  for (const auto& [split, labels] : counts) {
    std::int64_t n = 0;
    for (const auto& [label, count] : labels) {
      const auto index = data::class_index(label, classes);
      if (!index) continue;
      n += count;
      if (split == "train") train_labels.insert(*index);
      if (split == "val") val_images += count;
    }
    samples_said += fmt::format("{}{} {}", samples_said.empty() ? "" : ", ", split, n);
  }
  if (train_labels.size() < 2 || val_images == 0)
    throw HttpError(http::status::conflict, "not_enough_samples",
                    fmt::format("fine-tuning needs training images of at least 2 labels and at least one validation "
                                "image; {} gives {} training label(s) and {} validation image(s) (samples: {}). A "
                                "sample's split follows its patient id: add samples of more patients",
                                base_ ? "the base dataset with the samples" : "the samples (no base dataset)",
                                train_labels.size(), val_images, samples_said.empty() ? "none" : samples_said));

  std::lock_guard lock(mutex_);
  if (current_) {
    std::lock_guard job_lock(current_->mutex);
    if (!is_final(current_->state))
      throw HttpError(http::status::conflict, "job_running",
                      fmt::format("job {} is still running: one fine-tune at a time", current_->id));
  }
  if (worker_.joinable()) worker_.join();  // the last job has ended: its thread is done
  const JobRecord row = store.add_job(json::serialize(params_json(params)));
  auto job = std::make_shared<Job>();
  job->id = row.id;
  job->created_at = row.created_at;
  job->updated_at = row.updated_at;
  job->params = params;
  job->parent = record->id;
  job->parent_file = record->file;
  job->detail = {
      {"params", params_json(params)},
      {"parent", record->id},
      {"phase", "queued"},
      {"classes", json::value_from(info.class_names)},
      {"history", json::array{}},
      {"before", nullptr},
      {"after", nullptr},
      {"error", nullptr},
      {"base_data", options_.base_data.empty() ? json::value(nullptr) : json::value(options_.base_data.string())},
      {"threads", options_.threads}};
  current_ = job;
  worker_ = std::thread([this, job] { run(job); });
  std::lock_guard job_lock(job->mutex);
  return job->to_json();
}

std::optional<json::object> Jobs::find(std::int64_t id) {
  {
    std::lock_guard lock(mutex_);
    if (current_ && current_->id == id) {
      std::lock_guard job_lock(current_->mutex);
      return current_->to_json();
    }
  }
  const auto record = app_.store->job(id);
  if (!record) return std::nullopt;
  return job_from_record(*record)->to_json();
}

json::array Jobs::recent(int limit) {
  json::array out;
  for (const auto& r : app_.store->jobs(limit)) out.push_back(*find(r.id));
  return out;
}

json::object Jobs::cancel(std::int64_t id) {
  std::lock_guard lock(mutex_);
  if (!current_ || current_->id != id) {
    if (!app_.store->job(id)) throw HttpError(http::status::not_found, "not_found", fmt::format("no job {}", id));
    throw HttpError(http::status::conflict, "job_finished", fmt::format("job {} has ended", id));
  }
  std::lock_guard job_lock(current_->mutex);
  if (is_final(current_->state))
    throw HttpError(http::status::conflict, "job_finished", fmt::format("job {} has ended", id));
  current_->cancelled = true;
  current_->stop = true;
  return current_->to_json();
}

std::shared_ptr<EventStream> Jobs::events(std::int64_t id) {
  {
    std::lock_guard lock(mutex_);
    if (current_ && current_->id == id) return std::make_shared<JobEvents>(current_);
  }
  const auto record = app_.store->job(id);
  if (!record) return nullptr;
  return std::make_shared<JobEvents>(job_from_record(*record));
}

void Jobs::run(const std::shared_ptr<Job>& job) {
  Store& store = *app_.store;
  const fs::path work = store.dir() / "jobs" / std::to_string(job->id);
  const auto check_stop = [&job](std::int64_t) {
    if (job->stop) throw Stopped{};
  };
  std::string state, model;  // how it ended
  try {
    ThreadPoolScope pool(options_.threads);
    set_state(store, *job, "running", "preparing");
    fs::create_directories(work);
    LoadedModel parent = load_model(job->parent_file);
    const SampleSet samples = write_samples_dataset(store, work / "samples", parent.info, job->stop);

    TrainOptions o;
    o.data_dir = base_ ? options_.base_data : work / "samples";
    if (base_ && samples.images > 0) o.extra_data = work / "samples";
    o.out = work / "model.safetensors";
    o.init_model = job->parent_file;
    o.unfreeze = job->params.unfreeze;
    o.epochs = job->params.epochs;
    o.batch = job->params.batch;
    o.lr = job->params.learning_rate;
    o.patience = 0;
    o.workers = options_.loader_workers;
    o.seed = static_cast<std::uint64_t>(job->id);
    data::Dataset dataset = data::Dataset::open(o.data_dir);
    if (o.extra_data) dataset = data::Dataset::concat(dataset, data::Dataset::open(*o.extra_data));
    const std::vector<std::int64_t> test = dataset.indices(data::Split::test);
    {
      std::lock_guard lock(job->mutex);
      json::object per_split;
      for (const auto& [split, n] : samples.per_split) per_split[split] = n;
      job->detail["data"] = {{"train", dataset.indices(data::Split::train).size()},
                             {"val", dataset.indices(data::Split::val).size()},
                             {"test", test.size()},
                             {"samples", std::move(per_split)}};
    }

    // The model as it was, on the test split that stays fixed.
    set_state(store, *job, "running", "evaluating");
    json::value before = nullptr;
    if (!test.empty())
      before = report_to_json(evaluate_on_dataset(*parent.net, parent.info, dataset, test, 32, check_stop).report);
    {
      std::lock_guard lock(job->mutex);
      job->detail["before"] = before;
    }

    set_state(store, *job, "running", "training");
    TrainCallbacks cb;
    cb.on_start = [&](const TrainPlan& plan) {
      std::lock_guard lock(job->mutex);
      job->detail["trainable_parameters"] = plan.trainable_parameters;
      job->detail["parameters"] = plan.parameters;
    };
    cb.on_step = [&](const StepReport& r) {
      const auto now = Clock::now();
      std::lock_guard lock(job->mutex);
      const double done = static_cast<double>((r.epoch - 1) * r.batches + r.batch);
      job->detail["progress"] = {{"epoch", r.epoch},
                                 {"epochs", r.epochs},
                                 {"batch", r.batch},
                                 {"batches", r.batches},
                                 {"loss", r.loss},
                                 {"lr", r.lr},
                                 {"images_per_second", r.images_per_second},
                                 {"eta_seconds", r.eta_seconds},
                                 {"fraction", done / static_cast<double>(r.epochs * r.batches)}};
      if (now - job->last_progress >= kProgressInterval || r.batch == r.batches) {
        job->last_progress = now;
        job->progress_event = job->detail["progress"].as_object();
        ++job->progress_seq;
        job->progress_after = job->events.size();
      }
    };
    cb.on_epoch = [&](const EpochRecord& e, bool best) {
      std::string detail;
      {
        std::lock_guard lock(job->mutex);
        json::object record = cxr::to_json(e);
        record["best"] = best;
        job->detail["history"].as_array().push_back(record);
        job->events.emplace_back("epoch", record);
        detail = json::serialize(job->detail);
      }
      store.update_job(job->id, "running", detail);
    };
    // Kept after the job (its work folder goes): `cxr inspect --run <store>/telemetry/<id>`.
    TelemetryRecorder telemetry(store.dir() / "telemetry" / std::to_string(job->id), kJobTelemetryEvery);
    telemetry.attach(cb);
    const TrainResult result = train(o, &job->stop, cb);
    if (result.stop == StopReason::interrupted) throw Stopped{};

    // The new model (its best epoch by validation macro-F1) on the same images.
    set_state(store, *job, "running", "evaluating");
    LoadedModel tuned = load_model(o.out.string());
    json::value after = nullptr;
    if (!test.empty())
      after = report_to_json(evaluate_on_dataset(*tuned.net, tuned.info, dataset, test, 32, check_stop).report);
    json::object metrics = after.is_object() ? after.as_object() : json::object{};
    metrics["baseline"] = {{"model", job->parent}, {"report", before}};
    metrics["job"] = job->id;
    metrics["test_images"] = test.size();
    metrics["best_epoch"] = result.best_epoch;
    std::string detail;
    {
      std::lock_guard lock(job->mutex);
      job->detail["after"] = after;
      job->detail["best_epoch"] = result.best_epoch;
      job->detail["phase"] = "finished";
      detail = json::serialize(job->detail);
    }
    if (job->stop) throw Stopped{};
    const ModelRecord version = store.finish_job(job->id, o.out, job->parent, json::serialize(metrics), detail);
    // Registered: from here on the job has succeeded, whether or not activation works.
    std::string activation_error;
    if (job->params.activate) {
      try {
        activate(app_, version);
      } catch (const std::exception& e) {
        activation_error = without_absolute_paths(e.what());
      }
    }
    {
      std::lock_guard lock(job->mutex);
      job->detail["activated"] = job->params.activate && activation_error.empty();
      if (!activation_error.empty()) job->detail["activation_error"] = activation_error;
    }
    state = "succeeded";
    model = version.id;
  } catch (const Stopped&) {
    state = job->cancelled ? "cancelled" : "interrupted";
  } catch (const std::exception& e) {
    state = "failed";
    fmt::print(stderr, "cxr serve: job {} failed: {}\n", job->id, e.what());  // the full text, paths included
    std::lock_guard lock(job->mutex);
    job->detail["error"] = without_absolute_paths(e.what());
  }
  // Work files go before the end is announced: whoever sees it sees them gone.
  std::error_code ec;
  fs::remove_all(work, ec);
  try {
    finish(store, *job, state, model);
  } catch (const std::exception& e) {  // the store failed: the next start marks the job interrupted
    fmt::print(stderr, "cxr serve: job {} could not be recorded: {}\n", job->id, e.what());
    std::lock_guard lock(job->mutex);
    job->state = state == "succeeded" ? state : "failed";
    job->detail["error"] = without_absolute_paths(e.what());
    job->events.emplace_back(final_event(job->state), job->to_json());
  }
}

}  // namespace cxr::server
