// One small thread pool for every CPU kernel.
//
// Work is split statically: range [begin, end) is cut into one contiguous chunk
// per thread, always the same cut for the same range and thread count. So
// per-thread partial sums, reduced in thread order, give bit-identical results
// from run to run (the engine's determinism rule). A parallel_for inside another
// runs serially on the calling thread.
//
// Threads that call kernels at the same time take turns on the shared pool, one
// parallel region at a time. A thread that must neither wait for nor hold up the
// others (the web app's fine-tuning, beside its predictions) gets a pool of its
// own with a ThreadPoolScope.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

namespace cxr {

// Number of threads kernels use on the calling thread: its ThreadPoolScope's, else
// the shared pool's (default: hardware concurrency; CXR_THREADS overrides).
int num_threads();
// Resizes the shared pool.
void set_num_threads(int n);

namespace detail {
class ThreadPool;
}

// While it lives, the parallel regions of the thread that made it run on a pool of
// `threads` threads of its own (1: serially on that thread), never on the shared
// pool; num_threads() on that thread says `threads`, so results are those of a
// process running with that many threads. Scopes nest; destroy on the same thread.
class ThreadPoolScope {
 public:
  explicit ThreadPoolScope(int threads);
  ~ThreadPoolScope();
  ThreadPoolScope(const ThreadPoolScope&) = delete;
  ThreadPoolScope& operator=(const ThreadPoolScope&) = delete;

 private:
  std::unique_ptr<detail::ThreadPool> pool_;
  detail::ThreadPool* previous_;
};

// Calls fn(chunk_begin, chunk_end) on up to num_threads() disjoint chunks covering
// [begin, end); chunks hold at least `grain` items (except the last). Serially under
// a YieldScope (base/priority_gate.h): up to 16 chunks with a yield point between.
void parallel_for(std::int64_t begin, std::int64_t end, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& fn);

// Calls fn(thread_index, thread_count) once per worker. For reductions with one
// partial result per thread; the same split as parallel_for over [0, thread_count).
void parallel_threads(const std::function<void(int, int)>& fn);

// The chunk [begin, end) that thread `t` of `count` gets from a range of n items.
inline void static_chunk(std::int64_t n, int t, int count, std::int64_t* begin, std::int64_t* end) {
  const std::int64_t base = n / count, extra = n % count;
  *begin = t * base + (t < extra ? t : extra);
  *end = *begin + base + (t < extra ? 1 : 0);
}

}  // namespace cxr
