// Learning-rate schedules: the rate for optimizer step t (0-based).
#pragma once

#include <cstdint>

namespace cxr {

// Linear warm-up from 0 over `warmup_steps`, then half a cosine from base_lr down
// to min_lr at total_steps (and min_lr after that).
struct CosineWarmupSchedule {
  double base_lr;
  std::int64_t warmup_steps;
  std::int64_t total_steps;
  double min_lr = 0.0;
  double lr_at(std::int64_t step) const;
};

// base_lr * gamma^(step / step_size), as torch's StepLR.
struct StepSchedule {
  double base_lr;
  std::int64_t step_size;
  double gamma = 0.1;
  double lr_at(std::int64_t step) const;
};

}  // namespace cxr
