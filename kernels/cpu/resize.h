// Bilinear resize of NCHW maps with half-pixel centres, as PyTorch's
// interpolate(mode="bilinear", align_corners=False).
//
// Shape legend: maps = N*C, H x W input map, OH x OW output map.
// Output row oh samples the input at src = max(0, (oh + 0.5) * H / OH - 0.5) and
// blends rows i0 = floor(src) and i1 = min(i0 + 1, H - 1) with weights 1 - f and
// f = src - i0 (columns alike; the coordinates are computed in T as torch does).
// The filter is separable: each map is first resampled along rows into an H x OW
// buffer, then along columns, which serves upsampling and downsampling alike. The
// backward scatters the same weights in reverse order, one map per thread at a time,
// so it is deterministic.
// Convention (as in llm.c): outputs first, then inputs; d-prefixed names are gradients.
#pragma once

#include <cstdint>

namespace cxr::cpu {

template <class T>
void resize_bilinear_forward(T* out, const T* x, std::int64_t maps, std::int64_t H, std::int64_t W, std::int64_t OH,
                             std::int64_t OW);
template <class T>
void resize_bilinear_backward(T* dx, const T* dout, std::int64_t maps, std::int64_t H, std::int64_t W, std::int64_t OH,
                              std::int64_t OW);

}  // namespace cxr::cpu
