// The application's store, one folder (default ./var):
//   cxr.db            SQLite: meta (the API token's hash), samples, models, jobs
//   images/ab/<sha>   the added X-rays as uploaded, named by the SHA-256 of their bytes
//   models/<sha>.safetensors   every model version, named by the SHA-256 of the file
//   jobs/<id>/        a running fine-tune job's work files (server/jobs.h)
//
// Files are written atomically (temp + rename) before the row that refers to them
// is committed, so a crash leaves at worst an unreferenced file, never a row
// without its file; the temporary files and unregistered model files a crash left
// behind are removed on open. The same image bytes are stored once: a second
// upload is reported as a duplicate of the first. Each sample gets its split
// (train, val or test) when it is added.
#pragma once

#include "server/sqlite.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cxr::server {

struct SampleRecord {
  std::int64_t id = 0;
  std::string sha256, label, patient_id, source, created_at;
  int width = 0, height = 0;
  std::string split;  // train, val or test (sample_split)
};

// The split of an added sample, from its patient id (so all images of a patient
// share it) or, without one, from its image's SHA-256: 70:15:15 like the built
// datasets, by SHA-256 of that key, so it never changes and the test split of
// fine-tuning stays fixed.
std::string sample_split(const std::string& patient_id, const std::string& sha256);

struct SamplePage {
  std::vector<SampleRecord> samples;
  std::int64_t total = 0;                      // matching the filter
  std::map<std::string, std::int64_t> counts;  // per label, over all samples
};

// A fine-tune job (server/jobs.h); params and detail are JSON object text.
struct JobRecord {
  std::int64_t id = 0;
  std::string state;  // queued, running, succeeded, failed, cancelled, interrupted
  std::string params, detail;
  std::string model;  // the version it produced ("" when none)
  std::string created_at, updated_at;
};

struct ModelRecord {
  std::string id;      // "v1", "v2", ...
  std::string file;    // absolute path of the model file
  std::string parent;  // the version it was fine-tuned from ("" for an imported one)
  std::string created_at;
  std::string metrics;  // JSON object text ("{}" when none)
  bool active = false;
};

class Store {
 public:
  explicit Store(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return dir_; }

  // Creates the API token on first use: returns it (to print once) and keeps only
  // its SHA-256; returns nothing when the store already has one.
  std::optional<std::string> create_token_if_missing();
  // Makes a chosen token the store's ($CXR_TOKEN of `cxr serve`, e.g. from a
  // container's environment file), replacing any other; at least 16 characters.
  void set_token(std::string_view token);
  bool token_matches(std::string_view token);

  struct Added {
    SampleRecord sample;
    bool duplicate = false;
  };
  Added add_sample(std::string_view bytes, const std::string& label, const std::string& patient_id,
                   const std::string& source, int width, int height);
  SamplePage list_samples(const std::optional<std::string>& label, const std::optional<std::string>& source,
                          std::int64_t page, std::int64_t per_page);
  std::optional<SampleRecord> sample(std::int64_t id);
  std::vector<SampleRecord> all_samples();
  // Samples per split and label: counts[split][label].
  std::map<std::string, std::map<std::string, std::int64_t>> split_counts();
  bool delete_sample(std::int64_t id);  // false: no such sample
  std::filesystem::path image_path(const std::string& sha256) const;

  // Copies a model file into the store (once per content) as a new version, or
  // returns the version that already holds these bytes.
  ModelRecord add_model(const std::filesystem::path& file, const std::string& parent, const std::string& metrics);
  std::vector<ModelRecord> models();
  std::optional<ModelRecord> model(const std::string& id);
  std::optional<ModelRecord> active_model();
  void set_active(const std::string& id);  // throws cxr::Error for an unknown id

  JobRecord add_job(const std::string& params);  // state queued
  void update_job(std::int64_t id, const std::string& state, const std::string& detail);
  // Copies the job's model file into the store as a new version (or finds the
  // version holding these bytes) and marks the job succeeded with it, in one transaction.
  ModelRecord finish_job(std::int64_t id, const std::filesystem::path& model_file, const std::string& parent,
                         const std::string& metrics, const std::string& detail);
  std::optional<JobRecord> job(std::int64_t id);
  std::vector<JobRecord> jobs(std::int64_t limit);  // newest first
  // Jobs that a previous process left queued or running become interrupted; returns how many.
  int interrupt_unfinished_jobs();

 private:
  ModelRecord read_model(Statement& s);
  void migrate();
  void remove_unregistered_models();
  std::optional<ModelRecord> model_locked(std::string_view where, const std::string& value);
  // The version holding `bytes` (writing the file atomically first when new); call
  // inside a transaction holding mutex_.
  ModelRecord add_model_locked(const std::string& bytes, const std::string& parent, const std::string& metrics);

  std::filesystem::path dir_;
  std::mutex mutex_;
  Database db_;
};

}  // namespace cxr::server
