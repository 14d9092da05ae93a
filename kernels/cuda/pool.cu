// Max, average and global average pooling (rules: kernels/cpu/pool.h).
//
// Shape legend: N batch, C channels, H x W input map, OH x OW output map, k kernel,
// s stride, p padding; maps = N*C.
// Forward: one thread per output element (grid-stride, 64-bit indices), walking its
// window in row-major order exactly as the CPU does (same ties, same NaN rule, same
// summation order for the average).
// Backward: one thread per INPUT element, gathering from the outputs whose windows
// contain it: rows oh in [ceil((h + p - k + 1) / s), floor((h + p) / s)], columns
// alike. No atomics, so the result is deterministic, and the contributions are added
// in increasing output order, the order of the CPU's scatter loop. This file is
// compiled without FMA contraction, so each product rounds before its sum as on the
// CPU: every result but the global average's equals the CPU's.
// Global average: one block per map reduces its HW values in double (fixed order,
// reduce.cuh); its backward is a broadcast, one thread per input element.
#include "kernels/cuda/pool.h"

#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/reduce.cuh"

namespace cxr::cuda {

namespace {

constexpr int kMapThreads = 256;

// The window of output o along one axis, clipped to [0, size).
struct Span {
  std::int64_t begin, end;
};
__device__ __forceinline__ Span clip(std::int64_t start, std::int64_t k, std::int64_t size) {
  return {start > 0 ? start : 0, start + k < size ? start + k : size};
}

// The outputs along one axis whose windows contain input index i: [first, last].
__device__ __forceinline__ Span covering(std::int64_t i, std::int64_t k, std::int64_t s, std::int64_t p,
                                         std::int64_t out) {
  const std::int64_t lo = i + p - k + 1;  // window start must be >= lo
  const std::int64_t first = lo <= 0 ? 0 : (lo + s - 1) / s;
  const std::int64_t last = (i + p) / s < out - 1 ? (i + p) / s : out - 1;
  return {first, last + 1};
}

template <class T>
__device__ __forceinline__ bool is_nan(T v) {
  return v != v;
}

template <class T>
__global__ void max_pool_kernel(T* out, std::int32_t* argmax, const T* x, Pool2dShape s) {
  const std::int64_t out_map = s.out_h * s.out_w, total = s.N * s.C * out_map;
  for (std::int64_t o = first_index(); o < total; o += grid_stride()) {
    const std::int64_t m = o / out_map, oh = o % out_map / s.out_w, ow = o % s.out_w;
    const T* xm = x + m * s.H * s.W;
    const Span rows = clip(oh * s.stride - s.padding, s.kernel, s.H);
    const Span cols = clip(ow * s.stride - s.padding, s.kernel, s.W);
    std::int64_t best_at = rows.begin * s.W + cols.begin;
    T best = -INFINITY;
    for (std::int64_t h = rows.begin; h < rows.end; ++h)
      for (std::int64_t w = cols.begin; w < cols.end; ++w) {
        const T v = xm[h * s.W + w];
        if (v > best || is_nan(v)) {
          best = v;
          best_at = h * s.W + w;
        }
      }
    out[o] = best;
    argmax[o] = static_cast<std::int32_t>(best_at);
  }
}

template <class T>
__global__ void max_pool_backward_kernel(T* dx, const T* dout, const std::int32_t* argmax, Pool2dShape s) {
  const std::int64_t in_map = s.H * s.W, out_map = s.out_h * s.out_w, total = s.N * s.C * in_map;
  for (std::int64_t i = first_index(); i < total; i += grid_stride()) {
    const std::int64_t m = i / in_map, at = i % in_map, h = at / s.W, w = at % s.W;
    const Span rows = covering(h, s.kernel, s.stride, s.padding, s.out_h);
    const Span cols = covering(w, s.kernel, s.stride, s.padding, s.out_w);
    T acc = 0;
    for (std::int64_t oh = rows.begin; oh < rows.end; ++oh)
      for (std::int64_t ow = cols.begin; ow < cols.end; ++ow) {
        const std::int64_t o = m * out_map + oh * s.out_w + ow;
        if (argmax[o] == at) acc += dout[o];
      }
    dx[i] = acc;
  }
}

template <class T>
__global__ void avg_pool_kernel(T* out, const T* x, Pool2dShape s, T inv_area) {
  const std::int64_t out_map = s.out_h * s.out_w, total = s.N * s.C * out_map;
  for (std::int64_t o = first_index(); o < total; o += grid_stride()) {
    const std::int64_t m = o / out_map, oh = o % out_map / s.out_w, ow = o % s.out_w;
    const T* xm = x + m * s.H * s.W;
    const Span rows = clip(oh * s.stride - s.padding, s.kernel, s.H);
    const Span cols = clip(ow * s.stride - s.padding, s.kernel, s.W);
    T sum = 0;
    for (std::int64_t h = rows.begin; h < rows.end; ++h)
      for (std::int64_t w = cols.begin; w < cols.end; ++w) sum += xm[h * s.W + w];
    out[o] = sum * inv_area;
  }
}

template <class T>
__global__ void avg_pool_backward_kernel(T* dx, const T* dout, Pool2dShape s, T inv_area) {
  const std::int64_t in_map = s.H * s.W, out_map = s.out_h * s.out_w, total = s.N * s.C * in_map;
  for (std::int64_t i = first_index(); i < total; i += grid_stride()) {
    const std::int64_t m = i / in_map, at = i % in_map, h = at / s.W, w = at % s.W;
    const Span rows = covering(h, s.kernel, s.stride, s.padding, s.out_h);
    const Span cols = covering(w, s.kernel, s.stride, s.padding, s.out_w);
    T acc = 0;
    for (std::int64_t oh = rows.begin; oh < rows.end; ++oh)
      for (std::int64_t ow = cols.begin; ow < cols.end; ++ow) {
        acc += dout[m * out_map + oh * s.out_w + ow] * inv_area;
      }
    dx[i] = acc;
  }
}

template <class T>
__global__ void __launch_bounds__(kMapThreads) global_avg_kernel(T* out, const T* x, std::int64_t HW) {
  __shared__ double scratch[32];
  const T* xm = x + static_cast<std::int64_t>(blockIdx.x) * HW;
  double acc = 0;
  for (std::int64_t i = threadIdx.x; i < HW; i += blockDim.x) acc += static_cast<double>(xm[i]);
  const double total = block_reduce_sum(acc, scratch);
  if (threadIdx.x == 0) out[blockIdx.x] = static_cast<T>(total / static_cast<double>(HW));
}

template <class T>
__global__ void global_avg_backward_kernel(T* dx, const T* dout, std::int64_t maps, std::int64_t HW) {
  for (std::int64_t i = first_index(); i < maps * HW; i += grid_stride())
    dx[i] = static_cast<T>(static_cast<double>(dout[i / HW]) / static_cast<double>(HW));
}

}  // namespace

template <class T>
void max_pool2d_forward(T* out, std::int32_t* argmax, const T* x, const Pool2dShape& s) {
  const std::int64_t total = s.N * s.C * s.out_h * s.out_w;
  if (total <= 0) return;
  max_pool_kernel<<<grid_stride_blocks(total), kElementThreads, 0, stream()>>>(out, argmax, x, s);
  CXR_CUDA_LAUNCH_CHECK();
}

template <class T>
void max_pool2d_backward(T* dx, const T* dout, const std::int32_t* argmax, const Pool2dShape& s) {
  const std::int64_t total = s.N * s.C * s.H * s.W;
  if (total <= 0) return;
  max_pool_backward_kernel<<<grid_stride_blocks(total), kElementThreads, 0, stream()>>>(dx, dout, argmax, s);
  CXR_CUDA_LAUNCH_CHECK();
}

template <class T>
void avg_pool2d_forward(T* out, const T* x, const Pool2dShape& s) {
  const std::int64_t total = s.N * s.C * s.out_h * s.out_w;
  if (total <= 0) return;
  const T inv_area = T(1) / static_cast<T>(s.kernel * s.kernel);  // padding counts, as the CPU
  avg_pool_kernel<<<grid_stride_blocks(total), kElementThreads, 0, stream()>>>(out, x, s, inv_area);
  CXR_CUDA_LAUNCH_CHECK();
}

template <class T>
void avg_pool2d_backward(T* dx, const T* dout, const Pool2dShape& s) {
  const std::int64_t total = s.N * s.C * s.H * s.W;
  if (total <= 0) return;
  const T inv_area = T(1) / static_cast<T>(s.kernel * s.kernel);
  avg_pool_backward_kernel<<<grid_stride_blocks(total), kElementThreads, 0, stream()>>>(dx, dout, s, inv_area);
  CXR_CUDA_LAUNCH_CHECK();
}

template <class T>
void global_avg_pool2d_forward(T* out, const T* x, std::int64_t maps, std::int64_t HW) {
  if (maps <= 0) return;
  CXR_CHECK(maps < (std::int64_t{1} << 31), "global_avg_pool2d: {} maps are too many blocks", maps);
  global_avg_kernel<<<static_cast<unsigned int>(maps), kMapThreads, 0, stream()>>>(out, x, HW);
  CXR_CUDA_LAUNCH_CHECK();
}

template <class T>
void global_avg_pool2d_backward(T* dx, const T* dout, std::int64_t maps, std::int64_t HW) {
  if (maps * HW <= 0) return;
  global_avg_backward_kernel<<<grid_stride_blocks(maps * HW), kElementThreads, 0, stream()>>>(dx, dout, maps, HW);
  CXR_CUDA_LAUNCH_CHECK();
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

}  // namespace cxr::cuda
