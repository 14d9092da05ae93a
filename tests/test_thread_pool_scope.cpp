// ThreadPoolScope (base/parallel.h): a thread's own kernel pool, so that a
// background job (fine-tuning) never waits for, nor holds up, the shared pool.
#include "base/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <thread>

using namespace cxr;

namespace {

TEST(ThreadPoolScope, OneThreadRunsEveryRegionOnTheCallingThread) {
  set_num_threads(2);
  ThreadPoolScope scope(1);
  EXPECT_EQ(num_threads(), 1);
  std::set<std::thread::id> seen;
  int calls = 0;
  parallel_for(0, 1000, 1, [&](std::int64_t b, std::int64_t e) {
    ++calls;
    EXPECT_EQ(b, 0);
    EXPECT_EQ(e, 1000);
    seen.insert(std::this_thread::get_id());
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen, std::set{std::this_thread::get_id()});
}

TEST(ThreadPoolScope, OwnPoolSplitsLikeTheSharedOneAndScopesNest) {
  set_num_threads(2);
  {
    ThreadPoolScope outer(3);
    EXPECT_EQ(num_threads(), 3);
    std::mutex m;
    std::set<std::thread::id> threads;
    std::vector<std::pair<std::int64_t, std::int64_t>> chunks(3);
    parallel_threads([&](int t, int count) {
      EXPECT_EQ(count, 3);
      std::lock_guard lock(m);
      threads.insert(std::this_thread::get_id());
      static_chunk(10, t, count, &chunks[t].first, &chunks[t].second);
    });
    EXPECT_EQ(threads.size(), 3u);
    EXPECT_EQ(chunks[2].second, 10);
    {
      ThreadPoolScope inner(1);
      EXPECT_EQ(num_threads(), 1);
    }
    EXPECT_EQ(num_threads(), 3);
  }
  EXPECT_EQ(num_threads(), 2);
}

// The property the web app relies on: while another thread holds the shared pool
// (here a region blocked until released), a thread with its own pool still runs.
TEST(ThreadPoolScope, DoesNotWaitForTheSharedPool) {
  set_num_threads(2);
  std::mutex m;
  std::condition_variable cv;
  bool release = false;
  std::atomic<bool> holding{false};
  std::thread holder([&] {
    parallel_for(0, 2, 1, [&](std::int64_t, std::int64_t) {
      holding = true;
      std::unique_lock lock(m);
      cv.wait(lock, [&] { return release; });
    });
  });
  while (!holding) std::this_thread::yield();

  auto own = std::async(std::launch::async, [] {
    ThreadPoolScope scope(2);
    std::atomic<std::int64_t> sum{0};
    parallel_for(0, 100, 1, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) sum += i;
    });
    return sum.load();
  });
  const bool finished = own.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  {
    std::lock_guard lock(m);
    release = true;
  }
  cv.notify_all();
  holder.join();
  ASSERT_TRUE(finished) << "the scoped region waited for the shared pool";
  EXPECT_EQ(own.get(), 4950);
}

}  // namespace
