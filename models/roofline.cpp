#include "models/roofline.h"

#include "base/parallel.h"
#include "kernels/cpu/roofline_probe.h"

#include <boost/json.hpp>

#include <algorithm>
#include <map>
#include <mutex>

#include <unistd.h>

namespace cxr {

namespace {
// ~20 ms of FMAs per thread at 3 GHz, best of 10: short runs, so that on a shared
// machine some of them find the core to themselves.
constexpr std::int64_t kFmaIterations = 5'000'000;
constexpr int kFmaRepeats = 10, kTriadRepeats = 3;

// Floats per triad array: each array as large as the last-level cache, so that the
// three cannot stay in it (STREAM asks 4x; a VM reporting a 480 MiB L3 would need
// 6 GB), at least 64 MiB and at most 256 MiB (~1 s for the whole measurement).
std::int64_t triad_elements() {
  constexpr long kMiB = 1 << 20;
  const long llc = ::sysconf(_SC_LEVEL3_CACHE_SIZE);
  const long bytes = std::clamp(llc > 0 ? llc : 0L, 64 * kMiB, 256 * kMiB);
  return bytes / static_cast<long>(sizeof(float));
}
}  // namespace

Roofline measure_roofline() {
  Roofline r;
  r.threads = num_threads();
  r.isa = cpu::roofline_probe_isa();
  r.peak_flops = cpu::probe_peak_flops(kFmaIterations, kFmaRepeats);
  r.bandwidth = cpu::probe_triad_bandwidth(triad_elements(), kTriadRepeats);
  return r;
}

Roofline measured_roofline() {
  static std::mutex mutex;
  static std::map<int, Roofline> by_threads;
  const std::lock_guard lock(mutex);
  const auto [it, added] = by_threads.try_emplace(num_threads());
  if (added) it->second = measure_roofline();
  return it->second;
}

std::optional<RooflinePoint> roofline_point(const Roofline& roof, double flops, double bytes, double seconds) {
  if (!(flops > 0 && bytes > 0 && seconds > 0 && roof.peak_flops > 0 && roof.bandwidth > 0)) return std::nullopt;
  RooflinePoint p;
  p.intensity = flops / bytes;
  p.memory_bound = p.intensity * roof.bandwidth < roof.peak_flops;
  p.attainable = std::min(roof.peak_flops, p.intensity * roof.bandwidth);
  p.achieved = flops / seconds;
  p.share = p.achieved / p.attainable;
  return p;
}

boost::json::object to_json(const Roofline& roof) {
  return {{"peak_flops", roof.peak_flops},
          {"bandwidth", roof.bandwidth},
          {"threads", roof.threads},
          {"isa", roof.isa},
          {"ridge_intensity", roof.ridge_intensity()}};
}

boost::json::value to_json(const std::optional<RooflinePoint>& point) {
  if (!point) return nullptr;
  return boost::json::object{{"intensity", point->intensity},
                             {"attainable_flops", point->attainable},
                             {"achieved_flops", point->achieved},
                             {"share", point->share},
                             {"bound", point->memory_bound ? "memory" : "compute"}};
}

}  // namespace cxr
