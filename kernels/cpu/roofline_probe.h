// The two ceilings of the CPU roofline (Williams, Waterman, Patterson, CACM 2009),
// measured on the threads the kernels use (num_threads(), base/parallel.h):
//
//   peak FLOP/s  every thread runs a loop of independent fused multiply-adds on the
//                instruction set the GEMM chose (gemm_isa(): AVX-512 where the CPU
//                has it, 16 floats; else AVX2 + FMA, 8 floats; 2 FLOP per lane),
//                enough accumulators to hide the FMA latency;
//   bandwidth    STREAM's triad a[i] = b[i] + s c[i] over three float arrays far
//                larger than the last-level cache, counted as STREAM counts it:
//                3 x 4 bytes per element (the write-allocate read is not counted).
//
// Each probe reports the best of `repeats` timed runs after one warm-up run, as
// STREAM does: the ceiling is what the machine can do, not what it did on average.
#pragma once

#include <cstdint>

namespace cxr::cpu {

// The instruction set the FMA probe runs: "avx512f", "avx2+fma" or "scalar".
const char* roofline_probe_isa();

// FLOP/s of `iterations` loop trips per thread (a trip: 12 vector FMAs, 2 FLOP per lane).
double probe_peak_flops(std::int64_t iterations, int repeats);

// Bytes/s of the triad over `elements` floats per array.
double probe_triad_bandwidth(std::int64_t elements, int repeats);

}  // namespace cxr::cpu
