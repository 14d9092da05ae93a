#include "models/stop_signal.h"

#include "base/check.h"

#include <csignal>

namespace cxr {

namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};
struct sigaction g_previous_int, g_previous_term;

static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free,
              "the flags are written from a signal handler");

extern "C" void on_signal(int sig) {
  g_signal.store(sig);
  g_stop.store(true);
}

}  // namespace

StopOnSignal::StopOnSignal() {
  g_stop.store(false);
  g_signal.store(0);
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;  // the second signal gets the default action
  CXR_CHECK(::sigaction(SIGINT, &action, &g_previous_int) == 0 && ::sigaction(SIGTERM, &action, &g_previous_term) == 0,
            "cannot install the SIGINT/SIGTERM handlers");
}

StopOnSignal::~StopOnSignal() {
  ::sigaction(SIGINT, &g_previous_int, nullptr);
  ::sigaction(SIGTERM, &g_previous_term, nullptr);
}

const std::atomic<bool>* StopOnSignal::flag() const {
  return &g_stop;
}
int StopOnSignal::signal() const {
  return g_signal.load();
}

}  // namespace cxr
