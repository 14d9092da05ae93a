#include "kernels/cpu/resize.h"

#include "base/parallel.h"

#include <algorithm>
#include <vector>

namespace cxr::cpu {

namespace {

constexpr std::int64_t kGrain = 1 << 15;  // output elements per task

// Output j of a 1-D linear resize is w0 * in[i0] + w1 * in[i1].
template <class T>
struct Tap {
  std::int64_t i0, i1;
  T w0, w1;
};

template <class T>
std::vector<Tap<T>> linear_taps(std::int64_t in, std::int64_t out) {
  // As torch: the scale in T, the source coordinate in double, then rounded to T.
  const T scale = static_cast<T>(in) / static_cast<T>(out);
  std::vector<Tap<T>> taps(static_cast<std::size_t>(out));
  for (std::int64_t j = 0; j < out; ++j) {
    T src = static_cast<T>(static_cast<double>(scale) * (static_cast<double>(j) + 0.5) - 0.5);
    src = std::max(src, T(0));
    const auto i0 = static_cast<std::int64_t>(src);
    const T f = src - static_cast<T>(i0);
    taps[j] = {i0, i0 < in - 1 ? i0 + 1 : i0, T(1) - f, f};
  }
  return taps;
}

}  // namespace

template <class T>
void resize_bilinear_forward(T* out, const T* x, std::int64_t maps, std::int64_t H, std::int64_t W, std::int64_t OH,
                             std::int64_t OW) {
  const auto rows = linear_taps<T>(H, OH);
  const auto cols = linear_taps<T>(W, OW);
  parallel_for(0, maps, (kGrain + OH * OW - 1) / (OH * OW), [&](std::int64_t m0, std::int64_t m1) {
    std::vector<T> across(static_cast<std::size_t>(H * OW));  // every input row at OW columns
    for (std::int64_t m = m0; m < m1; ++m) {
      const T* xm = x + m * H * W;
      for (std::int64_t h = 0; h < H; ++h)
        for (std::int64_t ow = 0; ow < OW; ++ow) {
          const Tap<T>& c = cols[ow];
          across[h * OW + ow] = c.w0 * xm[h * W + c.i0] + c.w1 * xm[h * W + c.i1];
        }
      T* om = out + m * OH * OW;
      for (std::int64_t oh = 0; oh < OH; ++oh) {
        const Tap<T> r = rows[oh];  // a copy: stores to om cannot alias its weights
        const T* a = across.data() + r.i0 * OW;
        const T* b = across.data() + r.i1 * OW;
#pragma omp simd
        for (std::int64_t ow = 0; ow < OW; ++ow) om[oh * OW + ow] = r.w0 * a[ow] + r.w1 * b[ow];
      }
    }
  });
}

template <class T>
void resize_bilinear_backward(T* dx, const T* dout, std::int64_t maps, std::int64_t H, std::int64_t W, std::int64_t OH,
                              std::int64_t OW) {
  const auto rows = linear_taps<T>(H, OH);
  const auto cols = linear_taps<T>(W, OW);
  parallel_for(0, maps, (kGrain + OH * OW - 1) / (OH * OW), [&](std::int64_t m0, std::int64_t m1) {
    std::vector<T> across(static_cast<std::size_t>(H * OW));  // gradient of the row pass's output
    for (std::int64_t m = m0; m < m1; ++m) {
      std::fill(across.begin(), across.end(), T(0));
      const T* gm = dout + m * OH * OW;
      for (std::int64_t oh = 0; oh < OH; ++oh) {
        const Tap<T> r = rows[oh];
        T* a = across.data() + r.i0 * OW;
        T* b = across.data() + r.i1 * OW;
#pragma omp simd
        for (std::int64_t ow = 0; ow < OW; ++ow) a[ow] += r.w0 * gm[oh * OW + ow];
#pragma omp simd
        for (std::int64_t ow = 0; ow < OW; ++ow) b[ow] += r.w1 * gm[oh * OW + ow];
      }
      T* dxm = dx + m * H * W;
      std::fill(dxm, dxm + H * W, T(0));
      for (std::int64_t h = 0; h < H; ++h)
        for (std::int64_t ow = 0; ow < OW; ++ow) {
          const Tap<T>& c = cols[ow];
          dxm[h * W + c.i0] += c.w0 * across[h * OW + ow];
          dxm[h * W + c.i1] += c.w1 * across[h * OW + ow];
        }
    }
  });
}

#define CXR_INSTANTIATE(T)                                                                                        \
  template void resize_bilinear_forward<T>(T*, const T*, std::int64_t, std::int64_t, std::int64_t, std::int64_t,  \
                                           std::int64_t);                                                         \
  template void resize_bilinear_backward<T>(T*, const T*, std::int64_t, std::int64_t, std::int64_t, std::int64_t, \
                                            std::int64_t);
CXR_INSTANTIATE(float)
CXR_INSTANTIATE(double)
#undef CXR_INSTANTIATE

}  // namespace cxr::cpu
