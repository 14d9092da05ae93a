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
#include <thread>

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
