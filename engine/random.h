// Seeded randomness. Everything random in CXR (initialisation, dropout masks,
// shuffling, augmentation) draws from a Generator built from a user seed, so a run
// is reproducible. Dropout masks use a counter-based hash of (key, element index),
// so they do not depend on how the work is split across threads.
#pragma once

#include "kernels/common/counter_random.h"  // mix64, uniform_at (shared with the GPU's dropout)

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

namespace cxr {

class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0) : state_(mix64(seed)) {}

  std::uint64_t next_u64() { return mix64(state_ += 0x9e3779b97f4a7c15ULL); }
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  std::uint64_t below(std::uint64_t n) { return next_u64() % n; }  // bias < 2^-40 for our n
  // The whole state, for checkpoints: set_state(state()) continues the same stream.
  std::uint64_t state() const { return state_; }
  void set_state(std::uint64_t state) { state_ = state; }
  // Standard normal by Box-Muller (one value per call; simple and reproducible).
  double normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  std::uint64_t state_;
};

// Fisher-Yates: every permutation equally likely, one draw per position from the back.
template <class T>
void shuffle(std::vector<T>& items, Generator& gen) {
  for (std::size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[gen.below(i)]);
}

}  // namespace cxr
