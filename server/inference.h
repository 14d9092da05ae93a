// The inference service: predictions and explanations run on one worker thread,
// never on the HTTP I/O threads. Requests that wait while the worker is busy are
// taken together (up to max_batch): those of a round with the same model become
// one batched pass, a forward for plain predictions, a forward and a backward for
// explained ones (models/gradcam.h, explain_batch).
//
// The active model is a shared_ptr swapped atomically. A request is preprocessed
// for the model that was active when it arrived and keeps that model alive, so an
// activation never changes the model under a request in flight.
//
// One worker suffices: the engine's kernels already spread each op over the CPU
// threads, and two workers would only take turns on the kernel thread pool.
#pragma once

#include "base/priority_gate.h"
#include "models/explain/registry.h"
#include "models/gradcam.h"
#include "models/inference.h"
#include "models/model_file.h"
#include "models/ood_gate.h"
#include "server/decode_gate.h"

#include <boost/json.hpp>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace cxr::server {

struct ServedModel {
  std::string version;  // registry id ("v1", ...) or a label for a model not in a store
  LoadedModel model;
  boost::json::object metrics;  // the version's recorded evaluation, may be empty
  std::optional<OodGate> gate;  // the OOD gate and temperature beside its file; none: every image is answered
};

// An upload prepared exactly as training sees it (models/inference.h), for the
// model that was active when it arrived.
struct Preprocessed {
  std::shared_ptr<const ServedModel> model;
  PreparedImage image;
};

// Throws HttpError: 413 image_too_large (over data::kMaxImageSide on a side or over
// the decode budget data::kMaxDecodedBytes, refused from the header before any pixel
// is decoded and without waiting for a slot), 400 corrupt_image or image_too_small,
// 503 service_busy when no decode slot of `decodes` frees in time.
Preprocessed preprocess(std::span<const std::uint8_t> bytes, std::shared_ptr<const ServedModel> model,
                        DecodeGate& decodes);

struct Explanation {
  std::string method = "gradcam";  // a name of models/explain/registry.h
  int target_class = 0;
  int grid_height = 0, grid_width = 0;
  std::vector<float> grid;  // the coarse map divided by its maximum (all zeros if it is 0)
  Tensor map;               // [input_size, input_size] in [0, 1]
};

struct Prediction {
  std::shared_ptr<const ServedModel> model;
  std::vector<double> probabilities;  // calibrated: softmax(logits / temperature)
  std::vector<double> logits;         // raw
  double temperature = 1.0;           // 1 without a gate
  int label = 0;
  std::optional<OodVerdict> ood;           // the gate's verdict; nothing without a gate
  std::optional<Explanation> explanation;  // never for an image the gate refused unless forced
  int batch_size = 1;                      // images computed together in one pass
  double queue_ms = 0, compute_ms = 0;
};

struct PredictJob {
  Preprocessed image;
  std::optional<std::string> explain;  // a registry method name; nothing: probabilities only
  int target_class = -1;               // -1: the predicted class
  bool force = false;                  // explain an image the OOD gate refuses
};

class InferenceService {
 public:
  InferenceService(std::shared_ptr<const ServedModel> model, int max_batch = 16);
  ~InferenceService();  // finishes queued work, then joins
  InferenceService(const InferenceService&) = delete;
  InferenceService& operator=(const InferenceService&) = delete;

  std::shared_ptr<const ServedModel> model() const { return std::atomic_load(&model_); }
  void set_model(std::shared_ptr<const ServedModel> model) { std::atomic_store(&model_, std::move(model)); }

  std::future<Prediction> submit(PredictJob job);

  // Raised by every request from submit() until it is answered: the web app's
  // inspections yield to it between kernels (server/api_inspect.cpp).
  PriorityGate& urgency() { return urgency_; }

 private:
  struct Pending;
  void run();
  void process(std::vector<Pending>& batch);

  std::shared_ptr<const ServedModel> model_;
  PriorityGate urgency_;  // before the worker: it outlives every ticket
  const int max_batch_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace cxr::server
