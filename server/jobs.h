// Fine-tune jobs of the web app (POST /api/v1/train). One runs at a time, on a
// background thread whose kernels use a thread pool of their own
// (base/parallel.h ThreadPoolScope), so predictions on the shared pool never
// wait for a training step.
//
// A job fine-tunes the active model (models/trainer.h: init_model + unfreeze) on
// the base dataset (`cxr serve --data`, optional) plus the samples added through
// the API, decoded and fitted exactly as the base data (models/inference.h) into
// a dataset directory of the job, each in the split fixed when it was added
// (server/store.h sample_split). The base test split is never trained on. Before
// training and after, the old and the new model are evaluated on the same test
// split (base test images + test samples). The new model file is copied into the
// store atomically and registered together with the job's success in one
// transaction; it becomes active only when the job asked for it.
//
// Jobs live in the store's jobs table: a job that a crash or kill cut short is
// marked interrupted when the next server starts, and nothing it wrote is
// registered. Work files go to <store>/jobs/<id>/ and are removed when the job
// ends (and at start-up, for jobs that never ended).
#pragma once

#include "server/router.h"

#include "data/dataset.h"
#include "models/trainer.h"

#include <boost/json.hpp>

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace cxr::server {

struct FineTuneParams {
  int epochs = 5;
  double learning_rate = 1e-3;
  Unfreeze unfreeze = Unfreeze::head;
  int batch = 32;
  bool activate = false;  // serve the new version when the job succeeds
};

struct JobsOptions {
  std::filesystem::path base_data;  // a built dataset directory; empty: the samples alone
  int threads = 1;                  // kernel threads of the training, in its own pool
  int loader_workers = 1;           // threads preparing training batches
};

class Jobs {
 public:
  // Opens the base dataset (throws cxr::Error when it cannot), marks the jobs a
  // previous process left unfinished interrupted and removes their work files.
  Jobs(App& app, JobsOptions options);
  // A running job is stopped (it ends interrupted, like a killed one) and joined.
  ~Jobs();
  Jobs(const Jobs&) = delete;
  Jobs& operator=(const Jobs&) = delete;

  // Starts a job and returns it (state queued). Throws HttpError 409 while another
  // job runs (job_running), when the active model cannot be fine-tuned here
  // (unsupported_model, dataset_mismatch) or the data is too little
  // (not_enough_samples: train images of fewer than 2 labels, or no validation image).
  boost::json::object start(const FineTuneParams& params);
  std::optional<boost::json::object> find(std::int64_t id);
  boost::json::array recent(int limit);
  // Asks a running job to stop (it ends cancelled); returns it. HttpError 404 for an
  // unknown job, 409 (job_finished) for one that has ended.
  boost::json::object cancel(std::int64_t id);
  // The job's Server-Sent Events (see api_train.cpp); nullptr for an unknown job.
  std::shared_ptr<EventStream> events(std::int64_t id);

  struct Job;

 private:
  void run(const std::shared_ptr<Job>& job);

  App& app_;
  JobsOptions options_;
  std::optional<data::Dataset> base_;
  std::mutex mutex_;
  std::shared_ptr<Job> current_;  // the running job, or the last one of this process
  std::thread worker_;
};

}  // namespace cxr::server
