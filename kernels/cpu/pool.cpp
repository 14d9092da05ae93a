#include "kernels/cpu/pool.h"

#include "base/parallel.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace cxr::cpu {

namespace {

constexpr std::int64_t kGrain = 1 << 15;  // elements per task: ~128 KiB of float32

std::int64_t grain_for(std::int64_t per_map) {
  return (kGrain + per_map - 1) / per_map;
}

// The part of a pooling window [start, start + k) that lies inside [0, size).
struct Span {
  std::int64_t begin, end;
};
Span clip(std::int64_t start, std::int64_t k, std::int64_t size) {
  return {std::max<std::int64_t>(start, 0), std::min(start + k, size)};
}

}  // namespace

template <class T>
void max_pool2d_forward(T* out, std::int32_t* argmax, const T* x, const Pool2dShape& s) {
  const std::int64_t in_map = s.H * s.W, out_map = s.out_h * s.out_w;
  parallel_for(0, s.N * s.C, grain_for(in_map), [&](std::int64_t m0, std::int64_t m1) {
    for (std::int64_t m = m0; m < m1; ++m) {
      const T* xm = x + m * in_map;
      for (std::int64_t oh = 0; oh < s.out_h; ++oh) {
        const Span rows = clip(oh * s.stride - s.padding, s.kernel, s.H);
        for (std::int64_t ow = 0; ow < s.out_w; ++ow) {
          const Span cols = clip(ow * s.stride - s.padding, s.kernel, s.W);
          std::int64_t best_at = rows.begin * s.W + cols.begin;
          T best = -std::numeric_limits<T>::infinity();
          for (std::int64_t h = rows.begin; h < rows.end; ++h)
            for (std::int64_t w = cols.begin; w < cols.end; ++w) {
              const T v = xm[h * s.W + w];
              if (v > best || std::isnan(v)) {
                best = v;
                best_at = h * s.W + w;
              }
            }
          out[m * out_map + oh * s.out_w + ow] = best;
          argmax[m * out_map + oh * s.out_w + ow] = static_cast<std::int32_t>(best_at);
        }
      }
    }
  });
}

template <class T>
void max_pool2d_backward(T* dx, const T* dout, const std::int32_t* argmax, const Pool2dShape& s) {
  const std::int64_t in_map = s.H * s.W, out_map = s.out_h * s.out_w;
  parallel_for(0, s.N * s.C, grain_for(in_map), [&](std::int64_t m0, std::int64_t m1) {
    for (std::int64_t m = m0; m < m1; ++m) {
      T* dxm = dx + m * in_map;
      std::fill(dxm, dxm + in_map, T(0));
      for (std::int64_t o = 0; o < out_map; ++o) dxm[argmax[m * out_map + o]] += dout[m * out_map + o];
    }
  });
}

template <class T>
void avg_pool2d_forward(T* out, const T* x, const Pool2dShape& s) {
  const std::int64_t in_map = s.H * s.W, out_map = s.out_h * s.out_w;
  const T inv_area = T(1) / static_cast<T>(s.kernel * s.kernel);  // padding counts
  parallel_for(0, s.N * s.C, grain_for(in_map), [&](std::int64_t m0, std::int64_t m1) {
    for (std::int64_t m = m0; m < m1; ++m) {
      const T* xm = x + m * in_map;
      for (std::int64_t oh = 0; oh < s.out_h; ++oh) {
        const Span rows = clip(oh * s.stride - s.padding, s.kernel, s.H);
        for (std::int64_t ow = 0; ow < s.out_w; ++ow) {
          const Span cols = clip(ow * s.stride - s.padding, s.kernel, s.W);
          T sum = 0;
          for (std::int64_t h = rows.begin; h < rows.end; ++h)
            for (std::int64_t w = cols.begin; w < cols.end; ++w) sum += xm[h * s.W + w];
          out[m * out_map + oh * s.out_w + ow] = sum * inv_area;
        }
      }
    }
  });
}

template <class T>
void avg_pool2d_backward(T* dx, const T* dout, const Pool2dShape& s) {
  const std::int64_t in_map = s.H * s.W, out_map = s.out_h * s.out_w;
  const T inv_area = T(1) / static_cast<T>(s.kernel * s.kernel);
  parallel_for(0, s.N * s.C, grain_for(in_map), [&](std::int64_t m0, std::int64_t m1) {
    for (std::int64_t m = m0; m < m1; ++m) {
      T* dxm = dx + m * in_map;
      std::fill(dxm, dxm + in_map, T(0));
      for (std::int64_t oh = 0; oh < s.out_h; ++oh) {
        const Span rows = clip(oh * s.stride - s.padding, s.kernel, s.H);
        for (std::int64_t ow = 0; ow < s.out_w; ++ow) {
          const Span cols = clip(ow * s.stride - s.padding, s.kernel, s.W);
          const T g = dout[m * out_map + oh * s.out_w + ow] * inv_area;
          for (std::int64_t h = rows.begin; h < rows.end; ++h)
            for (std::int64_t w = cols.begin; w < cols.end; ++w) dxm[h * s.W + w] += g;
        }
      }
    }
  });
}

template <class T>
void global_avg_pool2d_forward(T* out, const T* x, std::int64_t maps, std::int64_t HW) {
  parallel_for(0, maps, grain_for(HW), [&](std::int64_t m0, std::int64_t m1) {
    for (std::int64_t m = m0; m < m1; ++m) {
      const T* xm = x + m * HW;
      double sum = 0;
#pragma omp simd reduction(+ : sum)
      for (std::int64_t i = 0; i < HW; ++i) sum += static_cast<double>(xm[i]);
      out[m] = static_cast<T>(sum / static_cast<double>(HW));
    }
  });
}

template <class T>
void global_avg_pool2d_backward(T* dx, const T* dout, std::int64_t maps, std::int64_t HW) {
  parallel_for(0, maps, grain_for(HW), [&](std::int64_t m0, std::int64_t m1) {
    for (std::int64_t m = m0; m < m1; ++m) {
      const T g = static_cast<T>(static_cast<double>(dout[m]) / static_cast<double>(HW));
      std::fill(dx + m * HW, dx + (m + 1) * HW, g);
    }
  });
}

#define CXR_INSTANTIATE(T)                                                                     \
  template void max_pool2d_forward<T>(T*, std::int32_t*, const T*, const Pool2dShape&);        \
  template void max_pool2d_backward<T>(T*, const T*, const std::int32_t*, const Pool2dShape&); \
  template void avg_pool2d_forward<T>(T*, const T*, const Pool2dShape&);                       \
  template void avg_pool2d_backward<T>(T*, const T*, const Pool2dShape&);                      \
  template void global_avg_pool2d_forward<T>(T*, const T*, std::int64_t, std::int64_t);        \
  template void global_avg_pool2d_backward<T>(T*, const T*, std::int64_t, std::int64_t);
CXR_INSTANTIATE(float)
CXR_INSTANTIATE(double)
#undef CXR_INSTANTIATE

}  // namespace cxr::cpu
