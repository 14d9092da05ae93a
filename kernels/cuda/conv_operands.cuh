// Operands and stores that let the GEMM engine (gemm_tile.cuh) run convolutions on
// NCHW tensors without materialising im2col matrices (implicit GEMM, .cu only).
//
// Shape legend: N batch, C_in / C_out channels, H x W input, H_out x W_out output,
// P = H_out*W_out, K kernel, KK = K*K, s stride, p padding, G groups,
// Cg = C_in/G, Og = C_out/G; the GEMM batch index is the group g.
//
// Each operand is a virtual matrix of `rows` rows and K columns (see gemm_tile.cuh):
//   NchwColumns  row j = (n, pixel), column = channel: t[n, k, pixel]
//   NchwRows     row = channel r of group g, column k = (n, pixel)
//   Im2col       row j = (n, oh, ow), column (cl, kh, kw): x at the tap
//   Im2colT      row (cl, kh, kw), column k = (n, oh, ow): x at the tap
//   WeightT      row ci, column (co, kh, kw): w[g*Og + co, ci, kh, kw]
//   DyGather     row j = (n, ih, iw), column (co, kh, kw): dy[n, g*Og + co, oh, ow]
//                with oh*s = ih + p - kh (0 unless divisible and inside)
// All are fetched as k-contiguous: a thread owns one row for the whole K loop,
// decoded once into a cursor (base pointer, window origin), and walks V
// consecutive k per step with carries instead of divisions; one row per thread
// keeps the cursor to 2-4 registers next to the 64 accumulators. The 128 threads
// of a tile map to 128 consecutive rows, so where rows are pixels (NchwColumns,
// Im2col, DyGather) a warp's load of one k is 32 consecutive pixels (stride s
// for strided windows): coalesced. Where k runs over pixels (NchwRows, Im2colT)
// each thread reads V consecutive pixels of its row, NchwRows as one float4 /
// double2 when aligned; the two threads sharing a 32-byte sector (k and k + 4)
// load it in the same step.
// NchwStore writes C[g][m, j] to t[n, g*Cg + m, pixel] for j = (n, pixel), adding
// bias[channel] and applying the ReLU as the CPU's fused conv does.
#pragma once

#include "kernels/cuda/gemm_tile.cuh"

namespace cxr::cuda::gemm_detail {

// t[n, k, pixel] as row j = n*P + pixel, column k (one group).
template <class T>
struct NchwColumns {
  static constexpr int V = kFetch<T>;
  const T* t;
  i64 channels, P, rows;  // rows = N*P

  __device__ bool contiguous_k() const { return true; }
  struct Cursor {
    const T* pixel;  // t[n, 0, pixel] of row j, null past the end
  };
  __device__ Cursor cursor(i64, i64 j) const {
    const i64 n = j / P;
    return {j < rows ? t + n * channels * P + (j - n * P) : nullptr};
  }
  __device__ void fetch(const Cursor& c, i64, i64 k, i64 k_end, T (&v)[V]) const {
#pragma unroll
    for (int i = 0; i < V; ++i) v[i] = c.pixel && k + i < k_end ? __ldg(c.pixel + (k + i) * P) : T(0);
  }
};

// t[n, g*group_rows + r, pixel] as row r, column k = n*P + pixel.
template <class T>
struct NchwRows {
  static constexpr int V = kFetch<T>;
  const T* t;
  i64 channels, group_rows, P, K;  // K = N*P

  __device__ bool contiguous_k() const { return true; }
  struct Cursor {
    const T* channel;  // t[0, g*group_rows + r, 0], null past the last row
  };
  __device__ Cursor cursor(i64 g, i64 r) const { return {r < group_rows ? t + (g * group_rows + r) * P : nullptr}; }
  __device__ void fetch(const Cursor& c, i64, i64 k, i64 k_end, T (&v)[V]) const {
    if (!c.channel) return zero_fill(v, V);
    i64 n = k / P, pixel = k - n * P;
    const T* q = c.channel + n * channels * P + pixel;
    if (k + V <= k_end && pixel + V <= P && is_aligned<V>(q)) return load_vec(v, q);
#pragma unroll
    for (int i = 0; i < V; ++i) {
      v[i] = k + i < k_end ? __ldg(c.channel + n * channels * P + pixel) : T(0);
      if (++pixel == P) pixel = 0, ++n;
    }
  }
};

// Geometry shared by the convolution operands.
struct ConvGeometry {
  i64 C_in, H, W, C_out, H_out, W_out, Cg, Og;
  int K, stride, pad;
};

// x[n, g*Cg + cl, oh*s - p + kh, ow*s - p + kw] as row j = (n, oh, ow), column (cl, kh, kw).
template <class T>
struct Im2col {
  static constexpr int V = kFetch<T>;
  const T* x;
  ConvGeometry s;
  i64 rows;  // N*P

  __device__ bool contiguous_k() const { return true; }
  struct Cursor {
    const T* image;  // x[n, g*Cg, 0, 0] of row j, null past the end
    int ih0, iw0;    // window origin oh*s - p, ow*s - p
  };
  __device__ Cursor cursor(i64 g, i64 j) const {
    const i64 P = s.H_out * s.W_out, n = j / P, pixel = j - n * P, oh = pixel / s.W_out, ow = pixel - oh * s.W_out;
    return {j < rows ? x + (n * s.C_in + g * s.Cg) * s.H * s.W : nullptr, static_cast<int>(oh * s.stride - s.pad),
            static_cast<int>(ow * s.stride - s.pad)};
  }
  __device__ void fetch(const Cursor& c, i64, i64 k, i64 k_end, T (&v)[V]) const {
    if (!c.image) return zero_fill(v, V);
    const int kk = s.K * s.K;
    i64 cl = k / kk;
    int tap = static_cast<int>(k - cl * kk), kh = tap / s.K, kw = tap - kh * s.K;
#pragma unroll
    for (int i = 0; i < V; ++i) {
      const int ih = c.ih0 + kh, iw = c.iw0 + kw;
      const bool inside = k + i < k_end && ih >= 0 && ih < s.H && iw >= 0 && iw < s.W;
      v[i] = inside ? __ldg(c.image + (cl * s.H + ih) * s.W + iw) : T(0);
      if (++kw == s.K) {
        kw = 0;
        if (++kh == s.K) kh = 0, ++cl;
      }
    }
  }
};

// x[n, g*Cg + cl, oh*s - p + kh, ow*s - p + kw] as row (cl, kh, kw), column k = (n, oh, ow).
template <class T>
struct Im2colT {
  static constexpr int V = kFetch<T>;
  const T* x;
  ConvGeometry s;

  __device__ bool contiguous_k() const { return true; }
  struct Cursor {
    const T* channel;  // x[0, g*Cg + cl, 0, 0], null past the last row
    int kh, kw;
  };
  __device__ Cursor cursor(i64 g, i64 r) const {
    const int kk = s.K * s.K;
    const i64 cl = r / kk;
    const int tap = static_cast<int>(r - cl * kk);
    return {r < s.Cg * kk ? x + (g * s.Cg + cl) * s.H * s.W : nullptr, tap / s.K, tap % s.K};
  }
  __device__ void fetch(const Cursor& c, i64, i64 k, i64 k_end, T (&v)[V]) const {
    if (!c.channel) return zero_fill(v, V);
    const i64 P = s.H_out * s.W_out;
    i64 n = k / P;
    const i64 pixel = k - n * P;
    int oh = static_cast<int>(pixel / s.W_out), ow = static_cast<int>(pixel - oh * s.W_out);
#pragma unroll
    for (int i = 0; i < V; ++i) {
      const int ih = oh * s.stride - s.pad + c.kh, iw = ow * s.stride - s.pad + c.kw;
      const bool inside = k + i < k_end && ih >= 0 && ih < s.H && iw >= 0 && iw < s.W;
      v[i] = inside ? __ldg(c.channel + n * s.C_in * s.H * s.W + static_cast<i64>(ih) * s.W + iw) : T(0);
      if (++ow == s.W_out) {
        ow = 0;
        if (++oh == s.H_out) oh = 0, ++n;
      }
    }
  }
};

// w[g*Og + co, ci, kh, kw] as row ci, column (co, kh, kw): the transposed weight of
// the input gradient.
template <class T>
struct WeightT {
  static constexpr int V = kFetch<T>;
  const T* w;
  ConvGeometry s;

  __device__ bool contiguous_k() const { return true; }
  struct Cursor {
    const T* row;  // w[g*Og, ci, 0, 0], null past the last row
  };
  __device__ Cursor cursor(i64 g, i64 ci) const {
    const i64 kk = s.K * s.K;
    return {ci < s.Cg ? w + g * s.Og * s.Cg * kk + ci * kk : nullptr};
  }
  __device__ void fetch(const Cursor& c, i64, i64 k, i64 k_end, T (&v)[V]) const {
    if (!c.row) return zero_fill(v, V);
    const int kk = s.K * s.K;
    i64 co = k / kk;
    int tap = static_cast<int>(k - co * kk);
#pragma unroll
    for (int i = 0; i < V; ++i) {
      v[i] = k + i < k_end ? __ldg(c.row + co * s.Cg * kk + tap) : T(0);
      if (++tap == kk) tap = 0, ++co;
    }
  }
};

// dy[n, g*Og + co, oh, ow] with oh*s = ih + p - kh, ow*s = iw + p - kw, as row
// j = (n, ih, iw), column (co, kh, kw): the input gradient as one GEMM. At stride s
// only 1/s^2 of the taps divide evenly; the others are zeros the GEMM multiplies
// (the price of having no col2im scatter, no atomics and no workspace).
template <class T>
struct DyGather {
  static constexpr int V = kFetch<T>;
  const T* dy;
  ConvGeometry s;
  i64 rows;  // N*H*W

  __device__ bool contiguous_k() const { return true; }
  struct Cursor {
    const T* image;  // dy[n, g*Og, 0, 0] of row j, null past the end
    int ihp, iwp;    // ih + p, iw + p
  };
  __device__ Cursor cursor(i64 g, i64 j) const {
    const i64 HW = s.H * s.W, n = j / HW, pixel = j - n * HW, ih = pixel / s.W, iw = pixel - ih * s.W;
    return {j < rows ? dy + (n * s.C_out + g * s.Og) * s.H_out * s.W_out : nullptr, static_cast<int>(ih + s.pad),
            static_cast<int>(iw + s.pad)};
  }
  __device__ void fetch(const Cursor& c, i64, i64 k, i64 k_end, T (&v)[V]) const {
    if (!c.image) return zero_fill(v, V);
    const int kk = s.K * s.K;
    i64 co = k / kk;
    int tap = static_cast<int>(k - co * kk), kh = tap / s.K, kw = tap - kh * s.K;
#pragma unroll
    for (int i = 0; i < V; ++i) {
      int oh = c.ihp - kh, ow = c.iwp - kw;
      bool inside = k + i < k_end && oh >= 0 && ow >= 0;
      if (s.stride != 1) {
        inside = inside && oh % s.stride == 0 && ow % s.stride == 0;
        oh /= s.stride;
        ow /= s.stride;
      }
      inside = inside && oh < s.H_out && ow < s.W_out;
      v[i] = inside ? __ldg(c.image + (co * s.H_out + oh) * s.W_out + ow) : T(0);
      if (++kw == s.K) {
        kw = 0;
        if (++kh == s.K) kh = 0, ++co;
      }
    }
  }
};

// C[g][m, j] -> t[n, g*group_rows + m, pixel] for j = n*P + pixel, plus bias[channel], ReLU.
template <class T>
struct NchwStore {
  T* t;
  i64 channels, group_rows, P, cols;  // cols = N*P
  const T* bias;
  bool relu;

  __device__ T finish(T v, T b) const {
    v += b;
    return relu && !(v > T(0)) ? T(0) : v;
  }
  template <int V>
  __device__ void put(i64 g, i64 m, i64 j, const T (&v)[V]) const {
    if (m >= group_rows || j >= cols) return;
    const i64 channel = g * group_rows + m;
    const T b = bias ? bias[channel] : T(0);
    i64 n = j / P, pixel = j - n * P;
    T* q = t + (n * channels + channel) * P + pixel;
    if (pixel + V <= P && is_aligned<V>(q)) {
      T out[V];
#pragma unroll
      for (int i = 0; i < V; ++i) out[i] = finish(v[i], b);
      return store_vec(q, out);
    }
#pragma unroll
    for (int i = 0; i < V; ++i) {
      if (j + i >= cols) return;
      t[(n * channels + channel) * P + pixel] = finish(v[i], b);
      if (++pixel == P) pixel = 0, ++n;
    }
  }
};

}  // namespace cxr::cuda::gemm_detail
