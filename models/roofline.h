// The CPU's roofline and where a kernel sits under it (Williams, Waterman and
// Patterson, "Roofline", CACM 2009). A kernel that does F FLOP and moves B bytes in
// t seconds has arithmetic intensity AI = F / B; the machine lets it reach at most
//
//   attainable = min(peak FLOP/s, AI x bandwidth)
//
// and its share of the roof is (F / t) / attainable. Both ceilings are measured
// (kernels/cpu/roofline_probe.h) on the threads the kernels use on the calling
// thread: the shared pool for `cxr inspect`, one thread in the web app's inspections.
#pragma once

#include <boost/json/object.hpp>

#include <optional>
#include <string>

namespace cxr {

struct Roofline {
  double peak_flops = 0;  // FLOP/s, FMA-bound loop on the kernels' ISA
  double bandwidth = 0;   // bytes/s, STREAM triad
  int threads = 0;
  std::string isa;
  // The intensity (FLOP/byte) where the two roofs meet: below it memory bounds a kernel.
  double ridge_intensity() const { return bandwidth > 0 ? peak_flops / bandwidth : 0.0; }
};

// About 1 s on 2 cores: an FMA loop of ~20 ms (best of 10) and a triad over 3 arrays
// of 64-256 MiB (best of 3).
Roofline measure_roofline();
// Measured once per process and thread count (the first call pays), then reused.
Roofline measured_roofline();

// One kernel under the roof. Empty when it did no arithmetic, moved no byte or took no time.
struct RooflinePoint {
  double intensity = 0;   // FLOP per byte
  double attainable = 0;  // FLOP/s: min(peak, intensity x bandwidth)
  double achieved = 0;    // FLOP/s: flops / seconds
  double share = 0;       // achieved / attainable
  bool memory_bound = false;
};
std::optional<RooflinePoint> roofline_point(const Roofline& roof, double flops, double bytes, double seconds);

// {"peak_flops", "bandwidth", "threads", "isa", "ridge_intensity"}
boost::json::object to_json(const Roofline& roof);
// {"intensity", "attainable_flops", "achieved_flops", "share", "bound": "memory" | "compute"}, or null.
boost::json::value to_json(const std::optional<RooflinePoint>& point);

}  // namespace cxr
