#include "server/inference.h"

#include "engine/autograd.h"
#include "engine/ops.h"
#include "models/gated_prediction.h"
#include "server/http.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace cxr::server {

namespace {

// Grad-CAM and Grad-CAM++ share one batched forward and backward pass; the other
// methods (several passes each, or other layers) run image by image.
bool batched_cam(const PredictJob& job) {
  return job.explain && (*job.explain == "gradcam" || *job.explain == "gradcam++");
}

}  // namespace

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

}  // namespace

namespace {

[[noreturn]] void throw_image_error(const std::string& code, const std::string& detail) {
  throw HttpError(
      code == "image_too_large" ? http::status::payload_too_large : http::status::bad_request,
      code == "image_too_large" || code == "image_too_small" ? code : "corrupt_image",
      code == "image_too_large" ? "image too large: " + detail : "not a usable JPEG or PNG image: " + detail);
}

}  // namespace

Preprocessed preprocess(std::span<const std::uint8_t> bytes, std::shared_ptr<const ServedModel> model,
                        DecodeGate& decodes) {
  if (const data::DecodeResult refused = data::check_header(bytes, data::DecodeLimits{}); !refused.ok())
    throw_image_error(refused.error, refused.detail);
  Preprocessed p;
  try {
    const DecodeGate::Permit slot = decodes.enter();
    p.image = prepare_image(bytes, model->model.info);
  } catch (const ImageError& e) {
    throw_image_error(e.code(), e.detail());
  }
  p.model = std::move(model);
  return p;
}

struct InferenceService::Pending {
  PredictJob job;
  std::promise<Prediction> promise;
  Clock::time_point queued;
  PriorityGate::Ticket urgent;  // held while queued and computed
};

InferenceService::InferenceService(std::shared_ptr<const ServedModel> model, int max_batch)
    : model_(std::move(model)), max_batch_(std::max(1, max_batch)), worker_([this] { run(); }) {}

InferenceService::~InferenceService() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

std::future<Prediction> InferenceService::submit(PredictJob job) {
  Pending pending{std::move(job), {}, Clock::now(), PriorityGate::Ticket(urgency_)};
  auto future = pending.promise.get_future();
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(pending));
  }
  wake_.notify_one();
  return future;
}

void InferenceService::run() {
  for (;;) {
    std::vector<Pending> batch;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      while (!queue_.empty() && static_cast<int>(batch.size()) < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    process(batch);
  }
}

void InferenceService::process(std::vector<Pending>& batch) {
  // The requests of a round that use the same model share one pass: one batched
  // forward for the gate and the probabilities, then, for the explained ones, one
  // forward and one backward (Grad-CAM, Grad-CAM++) or each method's own passes.
  std::vector<Pending*> left;
  for (auto& p : batch) left.push_back(&p);
  while (!left.empty()) {
    const auto model = left.front()->job.image.model;
    const bool explained = left.front()->job.explain.has_value();
    const bool batched = batched_cam(left.front()->job);
    std::vector<Pending*> group;
    std::erase_if(left, [&](Pending* p) {
      if (p->job.image.model != model || p->job.explain.has_value() != explained || batched_cam(p->job) != batched)
        return false;
      group.push_back(p);
      return true;
    });
    const auto start = Clock::now();
    try {
      const int size = model->model.info.config.input_size;
      const std::int64_t n = static_cast<std::int64_t>(group.size()), pixels = std::int64_t{size} * size;
      Tensor x = Tensor::empty({n, 1, size, size}, DType::F32);
      for (std::int64_t i = 0; i < n; ++i)
        std::memcpy(x.data<float>() + i * pixels, group[i]->job.image.image.input.data<float>(),
                    pixels * sizeof(float));
      // One forward for the logits and the pooled features: the gate's verdict and
      // the calibrated probabilities. An explanation costs more passes and is only
      // computed for images the gate lets through or forced ones.
      const OodGate* gate = model->gate ? &*model->gate : nullptr;
      const ModelOutputs outputs = model_outputs(*model->model.net, x, gate_temperature(gate));
      std::vector<Prediction> out(group.size());
      std::vector<std::int64_t> shown;
      for (std::int64_t i = 0; i < n; ++i) {
        GatedPrediction g = gated_prediction(gate, outputs, i);
        if (!g.refused() || group[i]->job.force) shown.push_back(i);
        out[i].probabilities = std::move(g.probabilities);
        out[i].logits = std::move(g.logits);
        out[i].temperature = g.temperature;
        out[i].ood = g.ood;
      }
      if (explained && !batched) {
        for (const std::int64_t i : shown) {
          const cxr::Explanation x_i = explain_with(*model->model.net, x.slice_rows(i, i + 1).contiguous(),
                                                    *group[i]->job.explain, group[i]->job.target_class);
          Explanation e;
          e.method = x_i.method;
          e.target_class = x_i.target_class;
          e.grid_height = static_cast<int>(x_i.grid.size(0));
          e.grid_width = static_cast<int>(x_i.grid.size(1));
          for (double v : x_i.grid.to_vector()) e.grid.push_back(static_cast<float>(v));
          e.map = x_i.map;
          out[i].explanation = std::move(e);
        }
      } else if (explained && !shown.empty()) {
        const auto m = static_cast<std::int64_t>(shown.size());
        Tensor xs = m == n ? x : Tensor::empty({m, 1, size, size}, DType::F32);
        std::vector<CamMethod> methods;
        std::vector<int> targets;
        for (std::int64_t j = 0; j < m; ++j) {
          const Pending* p = group[shown[j]];
          if (m != n)
            std::memcpy(xs.data<float>() + j * pixels, p->job.image.image.input.data<float>(), pixels * sizeof(float));
          methods.push_back(parse_cam_method(*p->job.explain));
          targets.push_back(p->job.target_class);
        }
        const std::vector<Heatmap> maps = explain_batch(*model->model.net, xs, methods, targets);
        for (std::int64_t j = 0; j < m; ++j) {
          const Heatmap& h = maps[j];
          Explanation e;
          e.method = cam_method_name(methods[j]);
          e.target_class = h.target_class;
          e.grid_height = static_cast<int>(h.coarse.size(0));
          e.grid_width = static_cast<int>(h.coarse.size(1));
          const double* coarse = h.coarse.data<double>();
          const double peak = *std::max_element(coarse, coarse + h.coarse.numel());
          for (std::int64_t q = 0; q < h.coarse.numel(); ++q)
            e.grid.push_back(peak > 0 ? static_cast<float>(coarse[q] / peak) : 0.0f);
          e.map = h.map;
          out[shown[j]].explanation = std::move(e);
        }
      }
      const double compute = ms_since(start);
      for (std::int64_t i = 0; i < n; ++i) {
        Prediction& p = out[i];
        p.model = model;
        p.label = static_cast<int>(std::max_element(p.logits.begin(), p.logits.end()) - p.logits.begin());
        p.batch_size = static_cast<int>(n);
        p.queue_ms = std::chrono::duration<double, std::milli>(start - group[i]->queued).count();
        p.compute_ms = compute;
        group[i]->promise.set_value(std::move(p));
      }
    } catch (...) {
      for (Pending* p : group) p->promise.set_exception(std::current_exception());
    }
  }
}

}  // namespace cxr::server
