// The convolution cases the op registry (tests/ops/conv.cpp) and test_cuda_conv
// share: one struct, and the GPU table on every path (pointwise, depthwise 3x3 tiled
// and per-output, implicit GEMM) and the awkward shapes: odd sizes, 1x1 maps, batch
// 1, channels not a multiple of 32, stride 2 on odd inputs, groups, padding beyond
// the kernel, multi-tile and split-K products.
#pragma once

#include "cases.h"

#include <cstdint>
#include <vector>

namespace cxr::testing {

struct Conv {
  const char* name;
  std::int64_t N, C_in, H, W, C_out, K;
  int stride, padding, groups;
  bool bias;
  Conv2dOptions options() const { return {stride, padding, groups}; }
  // x, weight[, bias], all requiring gradients: uniform in [-1, 1), or small integers in [-2, 2].
  std::function<Inputs(Generator&)> inputs(DType dt, bool integers = false) const {
    const Conv c = *this;
    return [=](Generator& gen) {
      auto make = [&](const Shape& s) {
        return integers ? int_grad_input(gen, s, dt, -2, 2) : grad_input(gen, s, dt);
      };
      Inputs in{make({c.N, c.C_in, c.H, c.W}), make({c.C_out, c.C_in / c.groups, c.K, c.K})};
      if (c.bias) in.push_back(make({c.C_out}));
      return in;
    };
  }
};

inline const std::vector<Conv> kDeviceConvs = {
    {"pointwise", 2, 37, 9, 11, 45, 1, 1, 0, 1, true},
    {"pointwise 1x1 map batch 1", 1, 9, 1, 1, 7, 1, 1, 0, 1, false},
    {"pointwise 130 -> 33, aligned maps", 1, 130, 4, 8, 33, 1, 1, 0, 1, true},
    {"depthwise s1 tiled, two tiles wide", 2, 5, 30, 37, 5, 3, 1, 1, 5, true},
    {"depthwise s2 tiled on odd input", 1, 3, 67, 53, 3, 3, 2, 1, 3, false},
    {"depthwise s1 per-output", 2, 19, 14, 13, 19, 3, 1, 1, 19, true},
    {"depthwise s2 per-output on odd input", 3, 16, 15, 17, 16, 3, 2, 1, 16, false},
    {"depthwise 1x1 map", 2, 3, 1, 1, 3, 3, 1, 1, 3, true},
    {"depthwise no padding", 2, 5, 9, 12, 5, 3, 1, 0, 5, true},
    {"depthwise s3 p2", 2, 6, 11, 10, 6, 3, 3, 2, 6, true},
    {"depthwise padding 3 (the input gradient crops)", 1, 2, 4, 3, 2, 3, 1, 3, 2, true},
    {"depthwise padding 3 tiled", 1, 2, 26, 30, 2, 3, 1, 3, 2, false},
    {"stem 3x3 s2 1 -> 32", 2, 1, 23, 23, 32, 3, 2, 1, 1, false},
    {"general 3x3", 2, 10, 9, 8, 13, 3, 1, 1, 1, true},
    {"grouped 3x3 s2", 2, 12, 11, 9, 9, 3, 2, 1, 3, true},
    {"5x5 s3 p2", 1, 7, 13, 12, 6, 5, 3, 2, 1, false},
    {"1x1 stride 2", 2, 3, 5, 5, 4, 1, 2, 0, 1, true},
    {"3x3 on a 1x1 map", 2, 3, 1, 1, 2, 3, 1, 1, 1, true},
    {"depthwise 5x5 (implicit GEMM)", 1, 3, 6, 6, 3, 5, 1, 2, 3, true},
    {"3x3 33 -> 130 (two row tiles, split-K weight gradient)", 2, 33, 20, 21, 130, 3, 1, 1, 1, true},
};

}  // namespace cxr::testing
