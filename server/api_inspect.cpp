// POST /api/v1/inspect: inside the active model for one X-ray (models/inspection.h),
// for the web app's Inside page. The body is an image as for /predict; query
// ?class=NAME|INDEX (differentiate that logit; default the predicted class) or
// ?label=NAME|INDEX (the loss for that label), and ?layer=NAME for the montages of
// that layer's activations and gradients (PNG data URLs).
//
// Read-only and bounded: the inspection runs on a private copy of the model (the
// served one is never written, not even its gradient buffer); everything from the
// upload's decoding to the answer's bytes runs on one kernel thread of its own in
// Linux's SCHED_IDLE class (it runs when no normal thread wants the core), yielding
// to predictions before each kernel and inside long loops (base/priority_gate.h:
// each yield point gives the core back to a waiting thread, and while a prediction
// is queued or computed it waits, at most 50 ms a wait and 10 s in all); one at a
// time (a second request meanwhile gets 503 inspection_busy); the answer holds
// statistics and 32-bin histograms, never raw tensors, and montages of at most
// kInspectMontageChannels channels of one layer.
//
// POST /api/v1/inspect/step?label=NAME|INDEX: one training step of (a copy of) the
// active model on the uploaded image with that true class (models/step_inspection.h):
// the autograd graph with times and FLOPs, and each parameter's AdamW update. Same
// bounds; the answer is about 90 KB for cxr-small (8 values of each parameter and of
// each op's tensors, the roofline shares). The step's tensors are kept whole
// (server/inspected_steps.h) under "step_id" for GET .../step/{id}/tensor.
#include "server/api.h"

#include "server/base64.h"
#include "server/decode_gate.h"

#include "base/parallel.h"
#include "base/priority_gate.h"
#include "models/feature_montage.h"
#include "models/inspection.h"
#include "models/inspection_json.h"
#include "models/presets.h"
#include "models/step_inspection.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <thread>
#include <utility>

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

namespace cxr::server {

namespace {

constexpr int kInspectMontageChannels = 9;  // 3 x 3 maps: about 0.3 MB for the 96 x 96 stem
constexpr int kInspectHistogramBins = 32;
constexpr double kInspectStepLr = 1e-3, kInspectStepWeightDecay = 1e-4;  // cxr train's AdamW defaults
// Yielding to predictions (base/priority_gate.h): a prediction of cxr-small takes
// ~7 ms, so 50 ms covers a queued batch; an inspection waits 10 s in all at most.
constexpr std::chrono::milliseconds kYieldMaxWait{50}, kYieldMaxTotal{10000};

std::atomic<bool> g_inspecting{false};

// Holds the one inspection slot, or throws 503.
class InspectionSlot {
 public:
  InspectionSlot() {
    if (g_inspecting.exchange(true))
      throw HttpError(http::status::service_unavailable, "inspection_busy",
                      "another inspection is running; try again in a few seconds");
  }
  ~InspectionSlot() { g_inspecting = false; }
  InspectionSlot(const InspectionSlot&) = delete;
  InspectionSlot& operator=(const InspectionSlot&) = delete;
};

// Puts the calling thread in SCHED_IDLE (sched(7): it runs only when no normal
// thread wants the core); where that is refused, nice 19. Best effort: a failure
// only costs prediction speed.
void lower_to_idle_priority() {
  const sched_param no_priority{};  // SCHED_IDLE takes priority 0
  if (::pthread_setschedparam(::pthread_self(), SCHED_IDLE, &no_priority) != 0)
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19);
}

// Runs fn on a thread of its own at the lowest CPU priority; its kernels run
// serially on that thread (ThreadPoolScope(1)), never on the shared pool that
// predictions use, and each waits first while a prediction is queued or computed
// (YieldScope on the inference service's urgency, bounded). The thread ends with
// the call, so no pool thread keeps the low priority. Exceptions come back to the caller.
template <class F>
auto run_at_lowest_priority(PriorityGate& predictions, F fn) -> decltype(fn()) {
  std::optional<decltype(fn())> result;
  std::exception_ptr error;
  std::thread worker([&] {
    lower_to_idle_priority();
    try {
      ThreadPoolScope one_thread(1);
      YieldScope yield(predictions, kYieldMaxWait, kYieldMaxTotal);
      result.emplace(fn());
    } catch (...) {
      error = std::current_exception();
    }
  });
  worker.join();
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

// The upload of an inspection, decoded on the inspection's low-priority thread. Not
// through the predictions' decode slots (app.decodes): a starved low-priority decode
// must not hold one of them. A gate of its own with one slot instead, never waited
// for (InspectionSlot lets one inspection run at a time), so the decodes in flight
// are bounded by kDecodeSlots + 1.
Preprocessed preprocess_for_inspection(std::string_view bytes, std::shared_ptr<const ServedModel> served) {
  static DecodeGate inspection_decodes(1);
  return preprocess(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()), std::move(served),
                    inspection_decodes);
}

std::string montage_url(const Tensor& maps, MontageColours colours) {
  return "data:image/png;base64," +
         base64_encode(encode_png(feature_montage(maps, colours, kInspectMontageChannels), {}));
}

}  // namespace

namespace {

// A private copy of the served model (the served one is never written).
struct ModelCopy {
  std::unique_ptr<ClassifierNet> net;
  std::unique_ptr<ParameterSet> params;
};
ModelCopy copy_of(const ServedModel& served) {
  ModelCopy c;
  c.net = make_net(served.model.info.config);
  c.params = std::make_unique<ParameterSet>(*c.net, 0);
  c.params->values().copy_(served.model.params->values());
  c.params->buffer_values().copy_(served.model.params->buffer_values());
  return c;
}

}  // namespace

Response post_inspect(App& app, const Request& req, const Target& target) {
  std::vector<FormPart> parts;
  const std::string_view bytes = upload_bytes(req, parts);
  const auto served = app.inference->model();
  const ModelInfo& info = served->model.info;
  InspectTarget what;
  if (const auto cls = target.param("class")) what.class_index = parse_class(info, *cls);
  if (const auto label = target.param("label")) what.label = parse_class(info, *label);
  if (what.class_index >= 0 && what.label >= 0)
    throw HttpError(http::status::bad_request, "bad_parameter", "give class or label, not both");
  const auto layer = target.param("layer");
  const auto layers = served->model.net->layer_names();
  if (layer && std::find(layers.begin(), layers.end(), *layer) == layers.end())
    throw HttpError(http::status::bad_request, "unknown_layer", fmt::format("no layer '{}' in the model", *layer));

  InspectionSlot slot;
  // Everything from the upload's decoding to the answer's bytes (montage PNGs, JSON)
  // runs at the low priority: only the socket's reads and writes are left at the
  // normal one, beside the predictions.
  std::string answer = run_at_lowest_priority(app.inference->urgency(), [&] {
    const Preprocessed image = preprocess_for_inspection(bytes, served);
    ModelCopy copy = copy_of(*served);
    const Inspection r = inspect(*copy.net, *copy.params, image.image.input, what, kInspectHistogramBins);
    json::object out = to_json(r, info.class_names);
    if (layer) {
      const auto& l = *std::find_if(r.layers.begin(), r.layers.end(), [&](const auto& x) { return x.name == *layer; });
      out["montages"] = {{"layer", l.name},
                         {"channels_shown", std::min<std::int64_t>(l.shape.at(1), kInspectMontageChannels)},
                         {"activation_png", montage_url(l.activation_maps, MontageColours::magnitude)},
                         {"gradient_png", montage_url(l.gradient_maps, MontageColours::signed_values)}};
    }
    out["model"] = served->version;
    out["layer_names"] = json::value_from(layers);
    return json::serialize(out);
  });
  return text_response(req, http::status::ok, "application/json", std::move(answer));
}

}  // namespace cxr::server

namespace cxr::server {

Response post_inspect_step(App& app, const Request& req, const Target& target) {
  std::vector<FormPart> parts;
  const std::string_view bytes = upload_bytes(req, parts);
  const auto served = app.inference->model();
  const ModelInfo& info = served->model.info;
  const auto label = target.param("label");
  if (!label) throw HttpError(http::status::bad_request, "missing_label", "label=NAME|INDEX: the image's true class");
  const int y = parse_class(info, *label);

  InspectionSlot slot;
  std::string answer = run_at_lowest_priority(app.inference->urgency(), [&] {
    const Preprocessed image = preprocess_for_inspection(bytes, served);
    ModelCopy copy = copy_of(*served);
    auto kept = std::make_shared<const StepInspection>(inspect_training_step(*copy.net, *copy.params, image.image.input,
                                                                             {y}, info.class_names, kInspectStepLr,
                                                                             kInspectStepWeightDecay, kStepTensorCaps));
    json::object out = to_json(*kept);
    out["model"] = served->version;
    out["step_id"] = app.inspected_steps.add(std::move(kept));
    return json::serialize(out);
  });
  return text_response(req, http::status::ok, "application/json", std::move(answer));
}

}  // namespace cxr::server
