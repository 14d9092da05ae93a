// Background work that steps aside for urgent work, by construction rather than by
// scheduler priority. Urgent work (the web app's predictions) holds a Ticket from
// the moment it is queued until it is answered; background work (the Inside page's
// inspections) runs under a YieldScope, and every parallel region it starts
// (base/parallel.h: every CPU kernel) first waits while any ticket is held.
//
// The waits are bounded, so background work always finishes: each wait ends when no
// ticket is held or after `max_wait`, and once a scope has waited `max_total` in all
// it stops waiting. Between two predictions the background work runs (at most one
// piece of a kernel, then it checks again), which is what keeps it going under a
// steady stream.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace cxr {

class PriorityGate {
 public:
  // Urgent work in flight: raised on construction, lowered on destruction. Movable.
  class Ticket {
   public:
    Ticket() = default;
    explicit Ticket(PriorityGate& gate);
    Ticket(Ticket&& other) noexcept : gate_(other.gate_) { other.gate_ = nullptr; }
    Ticket& operator=(Ticket&& other) noexcept;
    ~Ticket() { release(); }
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;

   private:
    void release();
    PriorityGate* gate_ = nullptr;
  };

  int urgent() const { return urgent_.load(); }         // tickets held now
  int waiting() const { return waiting_.load(); }       // background threads waiting now
  std::int64_t waits() const { return waits_.load(); }  // waits begun so far (each ticket-held yield)

  // Waits while a ticket is held, at most max_wait; returns the time it waited.
  std::chrono::steady_clock::duration wait_while_urgent(std::chrono::steady_clock::duration max_wait);

 private:
  std::atomic<int> urgent_{0}, waiting_{0};
  std::atomic<std::int64_t> waits_{0};
  std::mutex mutex_;
  std::condition_variable calm_;
};

// While it lives, parallel regions started on this thread yield to `gate` first.
// Not nested; destroy on the same thread.
class YieldScope {
 public:
  YieldScope(PriorityGate& gate, std::chrono::steady_clock::duration max_wait,
             std::chrono::steady_clock::duration max_total);
  ~YieldScope();
  YieldScope(const YieldScope&) = delete;
  YieldScope& operator=(const YieldScope&) = delete;

  std::chrono::steady_clock::duration waited() const { return waited_; }

 private:
  friend void yield_to_urgent_work();
  friend std::chrono::steady_clock::duration yielded_on_this_thread();
  PriorityGate& gate_;
  std::chrono::steady_clock::duration max_wait_, max_total_, waited_{};
};

// The yield point: a no-op unless a YieldScope is alive on the calling thread. There
// it first gives the core to any thread waiting for it (sched_yield: a thread woken
// onto the core of a SCHED_IDLE thread otherwise waited for the next scheduler tick,
// 4 ms, on the Linux 6.18 VM; docs/inspect.md), then waits while a ticket is held.
void yield_to_urgent_work();

// Whether a YieldScope is alive on the calling thread (base/parallel.cpp then runs a
// serial kernel in pieces, with a yield point between them).
bool yielding_on_this_thread();

// How long the calling thread's YieldScope has waited so far (0 without one): timers
// of the work subtract it (engine/graph_trace.h).
std::chrono::steady_clock::duration yielded_on_this_thread();

}  // namespace cxr
