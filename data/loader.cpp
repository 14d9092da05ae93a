#include "data/loader.h"

#include "base/check.h"
#include "engine/data/device_batch.h"
#include "engine/random.h"

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <numeric>
#include <thread>

namespace cxr::data {

struct Loader::State {
  Dataset dataset;
  std::vector<std::int64_t> indices;
  LoaderOptions opt;
  float mean = 0.0f, stddev = 1.0f;

  std::mutex mutex;
  std::condition_variable work, ready;
  std::int64_t epoch = -1;
  std::vector<std::int64_t> order;  // dataset indices of the epoch's samples
  std::int64_t num_batches = 0, next_claim = 0, next_deliver = 0;
  int in_flight = 0;
  std::vector<std::optional<Batch>> slots;  // batch k waits in slot k % prefetch
  std::exception_ptr error;
  bool stop = false;
  std::vector<std::thread> workers;

  std::vector<std::int64_t> epoch_order(std::int64_t e) const {
    Generator gen(mix64(opt.seed) ^ mix64(static_cast<std::uint64_t>(e) + 1));
    if (!opt.sample_weights.empty()) {  // inverse transform sampling on the cumulative weights
      std::vector<double> cumulative(opt.sample_weights.size());
      std::partial_sum(opt.sample_weights.begin(), opt.sample_weights.end(), cumulative.begin());
      std::vector<std::int64_t> out(indices.size());
      for (auto& o : out) {
        const double u = gen.uniform() * cumulative.back();
        const auto k = std::upper_bound(cumulative.begin(), cumulative.end(), u) - cumulative.begin();
        o = indices[std::min<std::size_t>(static_cast<std::size_t>(k), indices.size() - 1)];
      }
      return out;
    }
    if (opt.class_balanced) {  // uniform over the targets present (a label set counts as one)
      std::vector<std::vector<std::int64_t>> by_target(dataset.num_targets());
      for (auto i : indices) by_target[dataset.label(i)].push_back(i);
      std::erase_if(by_target, [](const auto& v) { return v.empty(); });
      std::vector<std::int64_t> out(indices.size());
      for (auto& o : out) {
        const auto& members = by_target[gen.below(by_target.size())];
        o = members[gen.below(members.size())];
      }
      return out;
    }
    std::vector<std::int64_t> out = indices;
    if (opt.shuffle) shuffle(out, gen);
    return out;
  }

  // Reads `order` only; start_epoch replaces it while no batch is in flight.
  Batch make_batch(std::int64_t k) const {
    const std::int64_t begin = k * opt.batch_size;
    const std::int64_t count = std::min<std::int64_t>(opt.batch_size, static_cast<std::int64_t>(order.size()) - begin);
    const int size = dataset.image_size();
    Batch b;
    std::vector<const std::uint8_t*> pixels;
    std::vector<AugmentParams> params;
    for (std::int64_t j = 0; j < count; ++j) {
      const std::int64_t i = order[begin + j];
      b.indices.push_back(i);
      b.labels.push_back(dataset.label(i));
      pixels.push_back(dataset.pixels(i));
      if (opt.augment) {
        Generator gen(mix64(mix64(mix64(opt.seed) + static_cast<std::uint64_t>(epoch)) + begin + j));
        params.push_back(sample_augment(*opt.augment, size, gen));
      }
    }
    b.images = make_image_batch(pixels, size, params, mean, stddev, opt.device);
    return b;
  }

  void worker_loop() {
    std::unique_lock lock(mutex);
    for (;;) {
      work.wait(lock, [&] { return stop || (next_claim < num_batches && next_claim < next_deliver + opt.prefetch); });
      if (stop) return;
      const std::int64_t k = next_claim++;
      ++in_flight;
      lock.unlock();
      std::optional<Batch> batch;
      std::exception_ptr failure;
      try {
        batch = make_batch(k);
      } catch (...) {
        failure = std::current_exception();
      }
      lock.lock();
      --in_flight;
      if (failure && !error) error = failure;
      slots[k % opt.prefetch] = std::move(batch);
      ready.notify_all();
    }
  }
};

Loader::Loader(Dataset dataset, std::vector<std::int64_t> indices, LoaderOptions options) : s_(new State) {
  CXR_CHECK(options.batch_size > 0 && options.workers >= 0 && options.prefetch > 0,
            "loader: batch_size {} and prefetch {} must be positive, workers {} non-negative", options.batch_size,
            options.prefetch, options.workers);
  for (auto i : indices)
    CXR_CHECK(i >= 0 && i < dataset.size(), "loader: index {} out of range ({} images)", i, dataset.size());
  if (!options.sample_weights.empty()) {
    CXR_CHECK(options.sample_weights.size() == indices.size(), "loader: {} sample weights for {} indices",
              options.sample_weights.size(), indices.size());
    double total = 0;
    for (double w : options.sample_weights) {
      CXR_CHECK(w >= 0 && std::isfinite(w), "loader: sample weight {} is not a non-negative number", w);
      total += w;
    }
    CXR_CHECK(total > 0, "loader: the sample weights are all zero");
  }
  s_->mean = options.mean.value_or(dataset.mean());
  s_->stddev = options.stddev.value_or(dataset.stddev());
  CXR_CHECK(s_->stddev > 0, "loader: stddev must be positive, got {}", s_->stddev);
  s_->dataset = std::move(dataset);
  s_->indices = std::move(indices);
  s_->opt = std::move(options);
  s_->slots.resize(s_->opt.prefetch);
  for (int t = 0; t < s_->opt.workers; ++t) s_->workers.emplace_back([s = s_.get()] { s->worker_loop(); });
}

Loader::~Loader() {
  {
    std::lock_guard lock(s_->mutex);
    s_->stop = true;
  }
  s_->work.notify_all();
  for (auto& t : s_->workers) t.join();
}

std::int64_t Loader::batches_per_epoch() const {
  const auto n = static_cast<std::int64_t>(s_->indices.size());
  const auto b = s_->opt.batch_size;
  return s_->opt.drop_last ? n / b : (n + b - 1) / b;
}

void Loader::start_epoch(std::int64_t epoch, std::int64_t first_batch) {
  CXR_CHECK(epoch >= 0, "loader: epoch must be non-negative, got {}", epoch);
  CXR_CHECK(first_batch >= 0 && first_batch <= batches_per_epoch(),
            "loader: first batch {} out of range (an epoch has {})", first_batch, batches_per_epoch());
  std::unique_lock lock(s_->mutex);
  s_->num_batches = 0;  // no new claims; let batches in flight finish
  s_->ready.wait(lock, [&] { return s_->in_flight == 0; });
  s_->epoch = epoch;
  s_->order = s_->epoch_order(epoch);
  for (auto& slot : s_->slots) slot.reset();
  s_->error = nullptr;
  s_->next_claim = s_->next_deliver = first_batch;
  s_->num_batches = batches_per_epoch();
  lock.unlock();
  s_->work.notify_all();
}

std::optional<Batch> Loader::next() {
  std::unique_lock lock(s_->mutex);
  CXR_CHECK(s_->epoch >= 0, "loader: call start_epoch before next");
  if (s_->next_deliver >= s_->num_batches) return std::nullopt;
  const std::int64_t k = s_->next_deliver;
  if (s_->workers.empty()) {
    ++s_->next_deliver;
    return s_->make_batch(k);
  }
  auto& slot = s_->slots[k % s_->opt.prefetch];
  s_->ready.wait(lock, [&] { return s_->error || slot.has_value(); });
  if (s_->error) std::rethrow_exception(s_->error);
  std::optional<Batch> batch = std::move(slot);
  slot.reset();
  ++s_->next_deliver;
  lock.unlock();
  s_->work.notify_all();
  return batch;
}

}  // namespace cxr::data
