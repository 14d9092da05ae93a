// Shapes and step parameters that every backend's kernels take: plain data, no
// device and no dtype, so the CPU reference (kernels/cpu), the CUDA kernels
// (kernels/cuda) and the engine (engine/ops, engine/optim) share one definition.
//
// Shape legend: N batch, C / C_in / C_out channels, H x W input, H_out x W_out
// (out_h x out_w) output, K square kernel, s stride, p zero padding, G groups.
#pragma once

#include <cstdint>

namespace cxr {

// ---- convolution ----------------------------------------------------------------------
struct Conv2dShape {
  std::int64_t N, C_in, H, W, C_out, K, stride, padding, groups, H_out, W_out;
};

// Fills H_out and W_out from the rest: (H + 2p - K) / s + 1.
inline Conv2dShape conv2d_shape(std::int64_t N, std::int64_t C_in, std::int64_t H, std::int64_t W, std::int64_t C_out,
                                std::int64_t K, std::int64_t stride, std::int64_t padding, std::int64_t groups) {
  return {N,
          C_in,
          H,
          W,
          C_out,
          K,
          stride,
          padding,
          groups,
          (H + 2 * padding - K) / stride + 1,
          (W + 2 * padding - K) / stride + 1};
}

// The shapes with a fast path of their own on every backend.
inline bool is_pointwise(const Conv2dShape& s) {  // 1x1, stride 1, no padding, one group
  return s.K == 1 && s.stride == 1 && s.padding == 0 && s.groups == 1;
}
inline bool is_depthwise3x3(const Conv2dShape& s) {  // 3x3, G = C_in = C_out
  return s.K == 3 && s.groups == s.C_in && s.C_out == s.C_in;
}

// Applied to each tile of a GEMM's C as it is stored after the last K block, while it
// is in registers: C[i, j] = relu?(C[i, j] + row_bias[i]). A fused conv's bias and
// ReLU then cost no extra pass over C.
template <class T>
struct GemmEpilogue {
  const T* row_bias = nullptr;  // [M] or null
  bool relu = false;
};

// ---- pooling --------------------------------------------------------------------------
// out_h = (H + 2p - kernel) / s + 1 (floor), likewise out_w.
struct Pool2dShape {
  std::int64_t N, C, H, W;
  std::int64_t kernel, stride, padding;
  std::int64_t out_h, out_w;
};

// ---- optimizer steps --------------------------------------------------------------------
struct AdamWStep {
  double lr, beta1, beta2, eps, weight_decay;
  double bias_correction1, bias_correction2;  // 1 - beta^t
};

struct SGDStep {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, first_step;
};

}  // namespace cxr
