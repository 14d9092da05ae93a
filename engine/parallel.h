// One small thread pool for every CPU kernel.
//
// Work is split statically: range [begin, end) is cut into one contiguous chunk
// per thread, always the same cut for the same range and thread count. So
// per-thread partial sums, reduced in thread order, give bit-identical results
// from run to run (the engine's determinism rule). A parallel_for inside another
// runs serially on the calling thread.
#pragma once

#include <cstdint>
#include <functional>

namespace cxr {

// Number of threads kernels use (default: hardware concurrency; CXR_THREADS overrides).
int num_threads();
void set_num_threads(int n);

// Calls fn(chunk_begin, chunk_end) on up to num_threads() disjoint chunks covering
// [begin, end); chunks hold at least `grain` items (except the last).
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
