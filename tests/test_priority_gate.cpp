// Inspections yield to predictions by construction (base/priority_gate.h): a kernel
// started under a YieldScope waits while a ticket is held and runs once it is
// released; the waits are bounded, so the work finishes under a ticket held for ever;
// without a scope nothing waits. Deterministic: the tests wait for the gate's own
// count of waiting threads, never for a time.
#include "base/check.h"
#include "base/parallel.h"
#include "base/priority_gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

using namespace cxr;
using namespace std::chrono_literals;

namespace {

// Spins until `condition` holds (each check yields the core).
template <class F>
void wait_until(F condition) {
  while (!condition()) std::this_thread::yield();
}

}  // namespace

TEST(PriorityGate, TicketsCountUrgentWorkAndMoveWithTheirOwner) {
  PriorityGate gate;
  EXPECT_EQ(gate.urgent(), 0);
  {
    PriorityGate::Ticket a(gate);
    EXPECT_EQ(gate.urgent(), 1);
    PriorityGate::Ticket b = std::move(a);
    EXPECT_EQ(gate.urgent(), 1);
    PriorityGate::Ticket c(gate);
    EXPECT_EQ(gate.urgent(), 2);
    c = std::move(b);  // c's own ticket is released
    EXPECT_EQ(gate.urgent(), 1);
  }
  EXPECT_EQ(gate.urgent(), 0);
}

TEST(PriorityGate, AKernelUnderAYieldScopeWaitsForTheTicketsRelease) {
  PriorityGate gate;
  auto ticket = std::make_unique<PriorityGate::Ticket>(gate);
  std::atomic<bool> ran{false};
  std::thread background([&] {
    const ThreadPoolScope one_thread(1);
    const YieldScope yield(gate, 1h, 1h);
    parallel_for(0, 10, 1, [&](std::int64_t, std::int64_t) { ran = true; });
  });
  wait_until([&] { return gate.waiting() == 1; });
  EXPECT_FALSE(ran);  // it waits before the kernel
  ticket.reset();
  background.join();
  EXPECT_TRUE(ran);
  EXPECT_EQ(gate.waits(), 1);
}

TEST(PriorityGate, WaitsAreBoundedSoTheWorkFinishesUnderATicketHeldForEver) {
  PriorityGate gate;
  const PriorityGate::Ticket never_released(gate);
  int kernels = 0;
  std::chrono::steady_clock::duration waited{};
  {
    const ThreadPoolScope one_thread(1);
    const YieldScope yield(gate, 1ms, 5ms);
    for (int k = 0; k < 100; ++k) parallel_threads([&](int, int) { ++kernels; });
    waited = yield.waited();
  }
  EXPECT_EQ(kernels, 100);
  EXPECT_GE(gate.waits(), 1);
  EXPECT_LE(gate.waits(), 100);
  EXPECT_GE(waited, 5ms);  // it stops waiting once the total is spent
  EXPECT_EQ(yielded_on_this_thread(), std::chrono::steady_clock::duration{});  // the scope has ended
}

TEST(PriorityGate, NothingWaitsWithoutAScopeOrWithoutATicket) {
  PriorityGate gate;
  {
    const PriorityGate::Ticket held(gate);
    parallel_for(0, 4, 1, [](std::int64_t, std::int64_t) {});  // no scope on this thread
  }
  {
    const YieldScope yield(gate, 1h, 1h);
    parallel_for(0, 4, 1, [](std::int64_t, std::int64_t) {});  // no ticket held
    EXPECT_THROW(YieldScope nested(gate, 1h, 1h), Error);
  }
  EXPECT_EQ(gate.waits(), 0);
}

// Inside a kernel too: under a YieldScope a serial kernel runs in pieces (at most 16,
// each of at least a grain) with a yield point between them, so a prediction that
// arrives mid-kernel waits for one piece.
TEST(PriorityGate, ALongKernelYieldsBetweenItsPieces) {
  PriorityGate gate;
  std::vector<std::pair<std::int64_t, std::int64_t>> pieces;
  {
    const ThreadPoolScope one_thread(1);
    const YieldScope yield(gate, 1h, 1h);
    parallel_for(0, 100, 3, [&](std::int64_t b, std::int64_t e) { pieces.emplace_back(b, e); });
  }
  ASSERT_EQ(pieces.size(), 15u);  // pieces of ceil(100 / 16) = 7
  std::int64_t next = 0;
  for (const auto& [b, e] : pieces) {
    EXPECT_EQ(b, next);
    EXPECT_GE(e - b, e == 100 ? 1 : 3);
    next = e;
  }
  EXPECT_EQ(next, 100);

  std::unique_ptr<PriorityGate::Ticket> prediction;
  std::atomic<int> ran{0};
  std::thread background([&] {
    const ThreadPoolScope one_thread(1);
    const YieldScope yield(gate, 1h, 1h);
    parallel_for(0, 4, 1, [&](std::int64_t b, std::int64_t) {
      if (b == 0) prediction = std::make_unique<PriorityGate::Ticket>(gate);  // arrives during piece 0
      ++ran;
    });
  });
  wait_until([&] { return gate.waiting() == 1; });
  EXPECT_EQ(ran, 1);  // it waits after the first piece
  prediction.reset();
  background.join();
  EXPECT_EQ(ran, 4);
  EXPECT_EQ(gate.waits(), 1);
}
