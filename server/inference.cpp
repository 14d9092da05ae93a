#include "server/inference.h"

#include "engine/autograd.h"
#include "engine/ops.h"
#include "server/http.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include <stb/stb_image.h>

namespace cxr::server {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

}  // namespace

Preprocessed preprocess(std::span<const std::uint8_t> bytes, std::shared_ptr<const ServedModel> model) {
  int width = 0, height = 0, channels = 0;
  if (stbi_info_from_memory(bytes.data(), static_cast<int>(bytes.size()), &width, &height, &channels) &&
      (width > kMaxImageSide || height > kMaxImageSide))
    throw HttpError(http::status::payload_too_large, "image_too_large",
                    fmt::format("image too large: {}x{} pixels, at most {}x{} are accepted", width, height,
                                kMaxImageSide, kMaxImageSide));
  Preprocessed p;
  try {
    p.image = prepare_image(bytes, model->model.info);
  } catch (const ImageError& e) {
    const std::string& code = e.code();
    throw HttpError(code == "image_too_large" ? http::status::payload_too_large : http::status::bad_request,
                    code == "image_too_large" || code == "image_too_small" ? code : "corrupt_image",
                    "not a usable JPEG or PNG image: " + e.detail());
  }
  p.model = std::move(model);
  return p;
}

struct InferenceService::Pending {
  PredictJob job;
  std::promise<Prediction> promise;
  Clock::time_point queued;
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
  Pending pending{std::move(job), {}, Clock::now()};
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
  const int round = static_cast<int>(batch.size());
  // Plain predictions of the same model share one forward pass.
  std::vector<Pending*> plain;
  for (auto& p : batch)
    if (!p.job.explain) plain.push_back(&p);
  while (!plain.empty()) {
    const auto model = plain.front()->job.image.model;
    std::vector<Pending*> group;
    std::erase_if(plain, [&](Pending* p) {
      if (p->job.image.model != model) return false;
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
      const auto probabilities = predict_probabilities(*model->model.net, x);
      const double compute = ms_since(start);
      for (std::int64_t i = 0; i < n; ++i) {
        Prediction out;
        out.model = model;
        out.probabilities = probabilities[i];
        out.label = static_cast<int>(std::max_element(out.probabilities.begin(), out.probabilities.end()) -
                                     out.probabilities.begin());
        out.batch_size = round;
        out.queue_ms = std::chrono::duration<double, std::milli>(start - group[i]->queued).count();
        out.compute_ms = compute;
        group[i]->promise.set_value(std::move(out));
      }
    } catch (...) {
      for (Pending* p : group) p->promise.set_exception(std::current_exception());
    }
  }

  // Explanations need one backward pass each.
  for (auto& p : batch) {
    if (!p.job.explain) continue;
    const auto start = Clock::now();
    try {
      const auto& model = p.job.image.model;
      const Heatmap h = explain(*model->model.net, p.job.image.image.input, *p.job.explain, p.job.target_class);
      Prediction out;
      out.model = model;
      out.probabilities = h.probabilities;
      out.label = static_cast<int>(std::max_element(h.probabilities.begin(), h.probabilities.end()) -
                                   h.probabilities.begin());
      Explanation e;
      e.method = *p.job.explain;
      e.target_class = h.target_class;
      e.grid_height = static_cast<int>(h.coarse.size(0));
      e.grid_width = static_cast<int>(h.coarse.size(1));
      double peak = 0;
      for (std::int64_t i = 0; i < h.coarse.numel(); ++i) peak = std::max(peak, h.coarse.at(i));
      for (std::int64_t i = 0; i < h.coarse.numel(); ++i)
        e.grid.push_back(peak > 0 ? static_cast<float>(h.coarse.at(i) / peak) : 0.0f);
      e.map = h.map;
      out.explanation = std::move(e);
      out.batch_size = round;
      out.queue_ms = std::chrono::duration<double, std::milli>(start - p.queued).count();
      out.compute_ms = ms_since(start);
      p.promise.set_value(std::move(out));
    } catch (...) {
      p.promise.set_exception(std::current_exception());
    }
  }
}

}  // namespace cxr::server
