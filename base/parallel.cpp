#include "base/parallel.h"

#include "base/check.h"
#include "base/priority_gate.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace cxr {

namespace {

thread_local bool t_inside_parallel = false;

}  // namespace

namespace detail {

// Workers 1..n-1 wait for a job; the calling thread runs part 0 itself.
class ThreadPool {
 public:
  explicit ThreadPool(int threads) { resize(threads); }
  ~ThreadPool() { stop(); }

  int size() const { return size_; }

  void resize(int threads) {
    stop();
    size_ = std::max(1, threads);
    stopping_ = false;
    // New workers start at the current generation, so a finished job is not re-run.
    for (int i = 1; i < size_; ++i) workers_.emplace_back([this, i, g = generation_] { worker_loop(i, g); });
  }

  // Runs job(part) for part in [0, parts), parts <= size(); returns when all are done.
  void run(int parts, const std::function<void(int)>& job) {
    std::unique_lock lock(mutex_);
    job_ = &job;
    parts_ = parts;
    pending_ = parts - 1;
    error_ = nullptr;
    ++generation_;
    lock.unlock();
    wake_.notify_all();

    run_part(job, 0);

    lock.lock();
    done_.wait(lock, [this] { return pending_ == 0; });
    job_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void run_part(const std::function<void(int)>& job, int part) {
    t_inside_parallel = true;
    try {
      job(part);
    } catch (...) {
      std::lock_guard lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    t_inside_parallel = false;
  }

  void worker_loop(int index, std::uint64_t seen) {
    for (;;) {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      if (index >= parts_) continue;
      const auto* job = job_;
      lock.unlock();
      run_part(*job, index);
      lock.lock();
      if (--pending_ == 0) done_.notify_one();
    }
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  int size_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* job_ = nullptr;
  int parts_ = 0, pending_ = 0;
  std::uint64_t generation_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
};

}  // namespace detail

namespace {

using detail::ThreadPool;

// The calling thread's own pool (ThreadPoolScope), or null: the shared pool.
thread_local ThreadPool* t_own_pool = nullptr;

int default_threads() {
  if (const char* env = std::getenv("CXR_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

ThreadPool& pool() {
  static ThreadPool instance(default_threads());
  return instance;
}

std::mutex& pool_mutex() {  // one parallel region at a time across caller threads
  static std::mutex m;
  return m;
}

// Runs job on `parts` parts of the calling thread's pool: its own, or the shared
// one, which serves one parallel region at a time across caller threads.
void run_parts(int parts, const std::function<void(int)>& job) {
  if (t_own_pool != nullptr) {
    t_own_pool->run(parts, job);
    return;
  }
  std::lock_guard lock(pool_mutex());
  pool().run(parts, job);
}

}  // namespace

ThreadPoolScope::ThreadPoolScope(int threads) : previous_(t_own_pool) {
  CXR_CHECK(threads >= 1, "ThreadPoolScope: need at least 1 thread, got {}", threads);
  pool_ = std::make_unique<ThreadPool>(threads);
  t_own_pool = pool_.get();
}

ThreadPoolScope::~ThreadPoolScope() {
  t_own_pool = previous_;
}

int num_threads() {
  return t_own_pool != nullptr ? t_own_pool->size() : pool().size();
}

void set_num_threads(int n) {
  CXR_CHECK(n >= 1, "set_num_threads: need at least 1 thread, got {}", n);
  std::lock_guard lock(pool_mutex());
  if (n != pool().size()) pool().resize(n);
}

// Both entry points first yield to urgent work when the calling thread runs under a
// YieldScope (base/priority_gate.h): the web app's inspections step aside there.
void parallel_for(std::int64_t begin, std::int64_t end, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& fn) {
  const std::int64_t n = end - begin;
  if (n <= 0) return;
  if (!t_inside_parallel) yield_to_urgent_work();
  grain = std::max<std::int64_t>(1, grain);
  const int parts = static_cast<int>(std::min<std::int64_t>(num_threads(), (n + grain - 1) / grain));
  if (parts <= 1 || t_inside_parallel) {
    if (t_inside_parallel || !yielding_on_this_thread()) {
      fn(begin, end);
      return;
    }
    // Background work (an inspection, serial on its own thread) runs the kernel in
    // up to kYieldPieces pieces of at least a grain with a yield point between them, so
    // that a prediction arriving mid-kernel waits for one piece, not the kernel.
    // fn must accept any chunking already (its split follows the thread count).
    constexpr std::int64_t kYieldPieces = 16;
    const std::int64_t piece = std::max(grain, (n + kYieldPieces - 1) / kYieldPieces);
    for (std::int64_t b = begin; b < end; b += piece) {
      if (b > begin) yield_to_urgent_work();
      fn(b, std::min(end, b + piece));
    }
    return;
  }
  run_parts(parts, [&](int part) {
    std::int64_t b, e;
    static_chunk(n, part, parts, &b, &e);
    fn(begin + b, begin + e);
  });
}

void parallel_threads(const std::function<void(int, int)>& fn) {
  if (!t_inside_parallel) yield_to_urgent_work();
  const int parts = num_threads();
  if (parts <= 1 || t_inside_parallel) {
    // Serial fallback still presents every part, so results match the parallel split.
    for (int t = 0; t < parts; ++t) fn(t, parts);
    return;
  }
  run_parts(parts, [&](int part) { fn(part, parts); });
}

}  // namespace cxr
