// The training steps of the Inside page (POST /api/v1/inspect/step) whose whole
// tensors the server keeps for GET /api/v1/inspect/step/{id}/tensor: the last
// kKeptSteps, each under kStepTensorCaps, so the memory they hold is bounded by
// kKeptSteps x kStepTensorCaps.max_total_bytes; keeping a new one drops the oldest.
#pragma once

#include "models/step_inspection.h"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace cxr::server {

inline constexpr std::size_t kKeptSteps = 2;
// 4 Mi values a tensor, 96 MiB a step: cxr-small's step on one X-ray keeps 57 MiB
// (its largest tensor 0.6 Mi values; docs/inspect.md), so all of it with room to
// spare; the server holds at most 2 x 96 MiB of steps.
inline constexpr TensorCaps kStepTensorCaps{std::int64_t{1} << 22, std::int64_t{96} << 20};

class InspectedSteps {
 public:
  // Keeps `step` and returns its id: 16 hex digits, random, so that a page of a
  // restarted server cannot fetch another step's tensors by an old id.
  std::string add(std::shared_ptr<const StepInspection> step);
  // The step kept under `id`, or null (never kept, or dropped for newer ones).
  std::shared_ptr<const StepInspection> find(const std::string& id) const;

 private:
  mutable std::mutex mutex_;
  std::deque<std::pair<std::string, std::shared_ptr<const StepInspection>>> steps_;  // oldest first
};

}  // namespace cxr::server
