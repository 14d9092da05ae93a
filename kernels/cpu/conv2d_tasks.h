// How the GEMM-based conv paths split their work across threads.
//
// A task is (image n, chunk [begin, end) of the H_out*W_out output columns); task
// t covers image t / chunks. Images alone would leave a core idle at batch 1, so
// each image is cut into enough chunks for every thread to get work.
// Weight gradients sum over all tasks: each thread accumulates its static range of
// tasks into its own partial, and the partials are added in thread order, so the
// result is bit-identical run to run for a fixed thread count.
#pragma once

#include "base/parallel.h"
#include "base/priority_gate.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace cxr::cpu {

struct ColumnTasks {
  std::int64_t cols, chunk_cols, chunks, count;  // chunks per image; count = images * chunks

  std::int64_t image(std::int64_t t) const { return t / chunks; }
  std::int64_t begin(std::int64_t t) const { return (t % chunks) * chunk_cols; }
  std::int64_t end(std::int64_t t) const { return std::min(cols, begin(t) + chunk_cols); }
};

// Chunks of at most max_chunk_cols columns (a multiple of 16, the GEMM's register
// tile width, where possible), and at least one task per thread.
inline ColumnTasks column_tasks(std::int64_t images, std::int64_t cols, std::int64_t max_chunk_cols) {
  constexpr std::int64_t kAlign = 16;
  const std::int64_t threads = num_threads();
  std::int64_t chunks = std::max<std::int64_t>((cols + max_chunk_cols - 1) / max_chunk_cols,
                                               (threads + images - 1) / std::max<std::int64_t>(1, images));
  chunks = std::clamp<std::int64_t>(chunks, 1, std::max<std::int64_t>(1, cols));
  std::int64_t chunk_cols = (cols + chunks - 1) / chunks;
  if (chunk_cols > kAlign) chunk_cols = (chunk_cols + kAlign - 1) / kAlign * kAlign;
  chunks = (cols + chunk_cols - 1) / chunk_cols;
  return {cols, chunk_cols, chunks, images * chunks};
}

// This thread's scratch buffer (im2col columns), grown to at least n elements and
// kept across calls; one user at a time per thread.
template <class T>
T* thread_scratch(std::int64_t n) {
  thread_local std::vector<T> buffer;
  if (static_cast<std::int64_t>(buffer.size()) < n) buffer.resize(static_cast<std::size_t>(n));
  return buffer.data();
}

// out[0 : size) = sum over tasks of what accumulate(partial, task, first) adds into
// `partial` (first: the partial is uninitialised and must be overwritten).
template <class T, class Fn>
void reduce_over_tasks(T* out, std::int64_t size, std::int64_t task_count, const Fn& accumulate) {
  const int threads = num_threads();
  std::vector<std::vector<T>> partials(static_cast<std::size_t>(threads));
  std::vector<char> used(static_cast<std::size_t>(threads), 0);
  parallel_threads([&](int t, int count) {
    std::int64_t b, e;
    static_chunk(task_count, t, count, &b, &e);
    if (b == e) return;
    T* partial = out;  // thread 0 accumulates straight into the result
    if (t > 0) {
      partials[t].resize(static_cast<std::size_t>(size));
      partial = partials[t].data();
    }
    for (std::int64_t task = b; task < e; ++task) {
      // A background inspection runs this serially on one thread (one part); let it
      // step aside for predictions between tasks (base/priority_gate.h; else a no-op).
      if (task > b) yield_to_urgent_work();
      accumulate(partial, task, task == b);
    }
    used[t] = 1;
  });
  if (!used[0]) std::fill(out, out + size, T(0));  // no tasks at all
  for (int t = 1; t < threads; ++t) {
    if (!used[t]) continue;
    const T* p = partials[t].data();
#pragma omp simd
    for (std::int64_t i = 0; i < size; ++i) out[i] += p[i];
  }
}

}  // namespace cxr::cpu
