#include "base/priority_gate.h"

#include "base/check.h"

#include <algorithm>
#include <thread>

namespace cxr {

namespace {
thread_local YieldScope* t_scope = nullptr;
}

PriorityGate::Ticket::Ticket(PriorityGate& gate) : gate_(&gate) {
  gate.urgent_.fetch_add(1);
}

PriorityGate::Ticket& PriorityGate::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    release();
    gate_ = other.gate_;
    other.gate_ = nullptr;
  }
  return *this;
}

void PriorityGate::Ticket::release() {
  if (gate_ == nullptr) return;
  if (gate_->urgent_.fetch_sub(1) == 1) {
    // Under the mutex, so that a waiter between its check and its wait cannot miss it.
    const std::lock_guard lock(gate_->mutex_);
    gate_->calm_.notify_all();
  }
  gate_ = nullptr;
}

std::chrono::steady_clock::duration PriorityGate::wait_while_urgent(std::chrono::steady_clock::duration max_wait) {
  if (urgent_.load() == 0) return {};
  const auto start = std::chrono::steady_clock::now();
  waits_.fetch_add(1);
  waiting_.fetch_add(1);
  {
    std::unique_lock lock(mutex_);
    calm_.wait_for(lock, max_wait, [this] { return urgent_.load() == 0; });
  }
  waiting_.fetch_sub(1);
  return std::chrono::steady_clock::now() - start;
}

YieldScope::YieldScope(PriorityGate& gate, std::chrono::steady_clock::duration max_wait,
                       std::chrono::steady_clock::duration max_total)
    : gate_(gate), max_wait_(max_wait), max_total_(max_total) {
  CXR_CHECK(t_scope == nullptr, "YieldScope: one is already alive on this thread");
  t_scope = this;
}

YieldScope::~YieldScope() {
  t_scope = nullptr;
}

void yield_to_urgent_work() {
  YieldScope* scope = t_scope;
  if (scope == nullptr) return;
  std::this_thread::yield();
  if (scope->waited_ >= scope->max_total_) return;
  scope->waited_ += scope->gate_.wait_while_urgent(std::min(scope->max_wait_, scope->max_total_ - scope->waited_));
}

bool yielding_on_this_thread() {
  return t_scope != nullptr;
}

std::chrono::steady_clock::duration yielded_on_this_thread() {
  return t_scope != nullptr ? t_scope->waited_ : std::chrono::steady_clock::duration{};
}

}  // namespace cxr
