#include "engine/optim/lr_schedule.h"

#include "base/check.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace cxr {

double CosineWarmupSchedule::lr_at(std::int64_t step) const {
  CXR_CHECK(warmup_steps >= 0 && total_steps > warmup_steps,
            "cosine schedule: need 0 <= warmup ({}) < total steps ({})", warmup_steps, total_steps);
  if (step < warmup_steps) return base_lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  const double progress =
      std::min(1.0, static_cast<double>(step - warmup_steps) / static_cast<double>(total_steps - warmup_steps));
  return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + std::cos(std::numbers::pi * progress));
}

double StepSchedule::lr_at(std::int64_t step) const {
  CXR_CHECK(step_size > 0, "step schedule: step_size must be positive, got {}", step_size);
  return base_lr * std::pow(gamma, static_cast<double>(step / step_size));
}

}  // namespace cxr
