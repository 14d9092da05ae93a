// Bilinear resize, forward and backward (rules: kernels/cpu/resize.h).
//
// Shape legend: maps = N*C, H x W input map, OH x OW output map.
// A tap (i0, i1, w0, w1) of output index j is computed in each thread with the CPU's
// formula.
// Forward: one thread per output element; it blends the two input rows at the
// output's columns (the CPU's row pass) and then the two rows (its column pass), the
// CPU's operations in its order (the compilers may fuse different products into FMAs,
// so results agree to a few ulps).
// Backward, deterministic, as gathers in two passes through a maps x H x OW buffer:
// pass 1, one thread per (map, input row h, output column): the sum over the output
// rows whose taps touch h; pass 2, one thread per input element: the sum over the
// output columns whose taps touch it. The touching outputs form one interval
// (taps are monotone in j), found by binary search, and are added in increasing
// order with i0's weight before i1's: the order of the CPU's scatter loops.
#include "kernels/cuda/resize.h"

#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/runtime.h"

namespace cxr::cuda {

namespace {

template <class T>
struct Tap {
  std::int64_t i0, i1;
  T w0, w1;
};

// As kernels/cpu/resize.cpp's linear_taps: the scale in T, the source coordinate in
// double, then rounded to T.
template <class T>
__device__ __forceinline__ Tap<T> tap(std::int64_t j, std::int64_t in, T scale) {
  T src = static_cast<T>(static_cast<double>(scale) * (static_cast<double>(j) + 0.5) - 0.5);
  src = src < T(0) ? T(0) : src;
  const auto i0 = static_cast<std::int64_t>(src);
  const T f = src - static_cast<T>(i0);
  return {i0, i0 < in - 1 ? i0 + 1 : i0, T(1) - f, f};
}

// The outputs [first, last) whose taps touch input index i: i0(j) <= i <= i1(j).
template <class T>
__device__ __forceinline__ void touching(std::int64_t& first, std::int64_t& last, std::int64_t i, std::int64_t in,
                                         std::int64_t out, T scale) {
  std::int64_t lo = 0, hi = out;  // first j with i1(j) >= i
  while (lo < hi) {
    const std::int64_t mid = (lo + hi) / 2;
    if (tap(mid, in, scale).i1 >= i)
      hi = mid;
    else
      lo = mid + 1;
  }
  first = lo;
  hi = out;  // first j with i0(j) > i
  while (lo < hi) {
    const std::int64_t mid = (lo + hi) / 2;
    if (tap(mid, in, scale).i0 > i)
      hi = mid;
    else
      lo = mid + 1;
  }
  last = lo;
}

template <class T>
__global__ void resize_kernel(T* out, const T* x, std::int64_t maps, std::int64_t H, std::int64_t W, std::int64_t OH,
                              std::int64_t OW, T scale_h, T scale_w) {
  const std::int64_t total = maps * OH * OW;
  for (std::int64_t o = first_index(); o < total; o += grid_stride()) {
    const std::int64_t m = o / (OH * OW), oh = o % (OH * OW) / OW, ow = o % OW;
    const Tap<T> r = tap(oh, H, scale_h), c = tap(ow, W, scale_w);
    const T* a = x + (m * H + r.i0) * W;
    const T* b = x + (m * H + r.i1) * W;
    const T across_a = c.w0 * a[c.i0] + c.w1 * a[c.i1];
    const T across_b = c.w0 * b[c.i0] + c.w1 * b[c.i1];
    out[o] = r.w0 * across_a + r.w1 * across_b;
  }
}

// across[m, h, ow] = sum over output rows oh touching h of w * dout[m, oh, ow].
template <class T>
__global__ void resize_rows_backward_kernel(T* across, const T* dout, std::int64_t maps, std::int64_t H,
                                            std::int64_t OH, std::int64_t OW, T scale_h) {
  const std::int64_t total = maps * H * OW;
  for (std::int64_t k = first_index(); k < total; k += grid_stride()) {
    const std::int64_t m = k / (H * OW), h = k % (H * OW) / OW, ow = k % OW;
    std::int64_t first, last;
    touching(first, last, h, H, OH, scale_h);
    T acc = 0;
    for (std::int64_t oh = first; oh < last; ++oh) {
      const Tap<T> r = tap(oh, H, scale_h);
      const T g = dout[(m * OH + oh) * OW + ow];
      if (r.i0 == h) acc += r.w0 * g;
      if (r.i1 == h) acc += r.w1 * g;
    }
    across[k] = acc;
  }
}

// dx[m, h, w] = sum over output columns ow touching w of w * across[m, h, ow].
template <class T>
__global__ void resize_cols_backward_kernel(T* dx, const T* across, std::int64_t maps, std::int64_t H, std::int64_t W,
                                            std::int64_t OW, T scale_w) {
  const std::int64_t total = maps * H * W;
  for (std::int64_t i = first_index(); i < total; i += grid_stride()) {
    const std::int64_t mh = i / W, w = i % W;  // mh = m*H + h
    std::int64_t first, last;
    touching(first, last, w, W, OW, scale_w);
    T acc = 0;
    for (std::int64_t ow = first; ow < last; ++ow) {
      const Tap<T> c = tap(ow, W, scale_w);
      const T a = across[mh * OW + ow];
      if (c.i0 == w) acc += c.w0 * a;
      if (c.i1 == w) acc += c.w1 * a;
    }
    dx[i] = acc;
  }
}

}  // namespace

template <class T>
void resize_bilinear_forward(T* out, const T* x, std::int64_t maps, std::int64_t H, std::int64_t W, std::int64_t OH,
                             std::int64_t OW) {
  const std::int64_t total = maps * OH * OW;
  if (total <= 0) return;
  const T scale_h = static_cast<T>(H) / static_cast<T>(OH), scale_w = static_cast<T>(W) / static_cast<T>(OW);
  resize_kernel<<<grid_stride_blocks(total), kElementThreads, 0, stream()>>>(out, x, maps, H, W, OH, OW, scale_h,
                                                                             scale_w);
  CXR_CUDA_LAUNCH_CHECK();
}

template <class T>
void resize_bilinear_backward(T* dx, const T* dout, std::int64_t maps, std::int64_t H, std::int64_t W, std::int64_t OH,
                              std::int64_t OW) {
  if (maps * H * W <= 0) return;
  const T scale_h = static_cast<T>(H) / static_cast<T>(OH), scale_w = static_cast<T>(W) / static_cast<T>(OW);
  DeviceArray<T> across(maps * H * OW);  // freed at once: later work on the stream is queued behind ours
  resize_rows_backward_kernel<<<grid_stride_blocks(maps * H * OW), kElementThreads, 0, stream()>>>(
      across.get(), dout, maps, H, OH, OW, scale_h);
  CXR_CUDA_LAUNCH_CHECK();
  resize_cols_backward_kernel<<<grid_stride_blocks(maps * H * W), kElementThreads, 0, stream()>>>(
      dx, across.get(), maps, H, W, OW, scale_w);
  CXR_CUDA_LAUNCH_CHECK();
}

#define CXR_INSTANTIATE(T)                                                                                        \
  template void resize_bilinear_forward<T>(T*, const T*, std::int64_t, std::int64_t, std::int64_t, std::int64_t,  \
                                           std::int64_t);                                                         \
  template void resize_bilinear_backward<T>(T*, const T*, std::int64_t, std::int64_t, std::int64_t, std::int64_t, \
                                            std::int64_t);
CXR_INSTANTIATE(float)
CXR_INSTANTIATE(double)
#undef CXR_INSTANTIATE

}  // namespace cxr::cuda
