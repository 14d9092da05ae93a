#include "server/inspected_steps.h"

#include <fmt/format.h>

#include <random>

namespace cxr::server {

std::string InspectedSteps::add(std::shared_ptr<const StepInspection> step) {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  const std::string id = fmt::format("{:016x}", random());
  const std::lock_guard lock(mutex_);
  steps_.emplace_back(id, std::move(step));
  while (steps_.size() > kKeptSteps) steps_.pop_front();
  return id;
}

std::shared_ptr<const StepInspection> InspectedSteps::find(const std::string& id) const {
  const std::lock_guard lock(mutex_);
  for (const auto& [kept_id, step] : steps_)
    if (kept_id == id) return step;
  return nullptr;
}

}  // namespace cxr::server
