// Ctrl-C for long work: while a StopOnSignal lives, the first SIGINT or SIGTERM
// sets a flag (which the trainer checks after every batch) instead of killing the
// process; the handler then resets itself, so a second Ctrl-C kills as usual.
#pragma once

#include <atomic>

namespace cxr {

class StopOnSignal {
 public:
  StopOnSignal();   // clears the flag and installs the handlers
  ~StopOnSignal();  // restores the previous handlers
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;

  const std::atomic<bool>* flag() const;
  int signal() const;  // the signal received, 0 when none
};

}  // namespace cxr
