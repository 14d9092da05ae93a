// Depthwise 3x3 convolution: tiled and per-output forward kernels, the input
// gradient by gather, the weight gradient by sliding windows (see depthwise_conv2d.h).
#include "kernels/cuda/depthwise_conv2d.h"

#include "kernels/cuda/conv2d.h"
#include "kernels/cuda/device_utils.cuh"

#include <algorithm>

namespace cxr::cuda {

namespace {

using i64 = std::int64_t;

constexpr int kTile = 32;           // output tile: kTile x kTile
constexpr int kRowsPerThread = 4;   // 32 x 8 threads, 4 outputs each
constexpr int kTiledMinWidth = 24;  // narrower output maps use the per-output kernel

// The plane geometry a forward-like pass reads (in_*) and writes (out_*).
struct Planes {
  int C, in_h, in_w, out_h, out_w, stride, pad;
};

// w[c, k], or w[c, 8 - k] with the kernel flipped (the stride-1 input gradient).
template <class T>
__device__ __forceinline__ void load_taps(T (&w)[9], const T* weight, i64 c, bool flip) {
#pragma unroll
  for (int k = 0; k < 9; ++k) w[k] = __ldg(weight + c * 9 + (flip ? 8 - k : k));
}

template <class T>
__device__ __forceinline__ T relu_if(T v, bool relu) {
  return relu && !(v > T(0)) ? T(0) : v;  // NaN -> 0, as the CPU kernel
}

// Block: one 32 x 32 tile of one plane (blockIdx.x = (plane, tile row, tile column)).
template <class T, int S>
__global__ void __launch_bounds__(256)
    depthwise_forward_tiled(T* out, const T* in, const T* weight, const T* bias, Planes g, int tiles_h, int tiles_w,
                            bool flip, bool relu) {
  constexpr int IN = (kTile - 1) * S + 3;      // window rows and columns
  constexpr int EVEN = (IN + 1) / 2;           // S = 2: even columns first, then odd
  constexpr int ROW = S == 2 ? 2 * EVEN : IN;  // shared row stride
  __shared__ T window[IN * ROW];

  const int tx = threadIdx.x % 32, ty = threadIdx.x / 32;
  const int tw = static_cast<int>(blockIdx.x % tiles_w);
  const i64 rest = blockIdx.x / tiles_w;
  const int th = static_cast<int>(rest % tiles_h);
  const i64 plane = rest / tiles_h;
  const i64 c = plane % g.C;
  const int oh0 = th * kTile, ow0 = tw * kTile;
  const int ih0 = oh0 * S - g.pad, iw0 = ow0 * S - g.pad;
  const T* src = in + plane * g.in_h * g.in_w;

  for (int r = ty; r < IN; r += 8) {
    const int ih = ih0 + r;
    const bool row_inside = ih >= 0 && ih < g.in_h;
    for (int col = tx; col < IN; col += 32) {
      const int iw = iw0 + col;
      const T v = row_inside && iw >= 0 && iw < g.in_w ? __ldg(src + static_cast<i64>(ih) * g.in_w + iw) : T(0);
      window[r * ROW + (S == 2 ? (col & 1) * EVEN + (col >> 1) : col)] = v;
    }
  }
  T w[9];
  load_taps(w, weight, c, flip);
  const T b = bias ? __ldg(bias + c) : T(0);
  __syncthreads();

  T acc[kRowsPerThread];
#pragma unroll
  for (int i = 0; i < kRowsPerThread; ++i) acc[i] = b;
    // Window rows ty*4*S + rr feed output rows i with tap row kh = rr - i*S.
#pragma unroll
  for (int rr = 0; rr < (kRowsPerThread - 1) * S + 3; ++rr) {
    const T* row = window + (ty * kRowsPerThread * S + rr) * ROW;
    const T v0 = row[tx];  // S = 2: even column 2 tx sits at tx
    const T v1 = S == 2 ? row[EVEN + tx] : row[tx + 1];
    const T v2 = S == 2 ? row[tx + 1] : row[tx + 2];
#pragma unroll
    for (int i = 0; i < kRowsPerThread; ++i) {
      const int kh = rr - i * S;
      if (kh >= 0 && kh < 3) acc[i] += w[kh * 3] * v0 + w[kh * 3 + 1] * v1 + w[kh * 3 + 2] * v2;
    }
  }
  const int ow = ow0 + tx;
#pragma unroll
  for (int i = 0; i < kRowsPerThread; ++i) {
    const int oh = oh0 + ty * kRowsPerThread + i;
    if (oh < g.out_h && ow < g.out_w)
      out[plane * g.out_h * g.out_w + static_cast<i64>(oh) * g.out_w + ow] = relu_if(acc[i], relu);
  }
}

// One thread per output, taps read through L1; any stride (and negative padding).
template <class T>
__global__ void __launch_bounds__(256) depthwise_forward_direct(T* out, const T* in, const T* weight, const T* bias,
                                                                Planes g, i64 total, bool flip, bool relu) {
  for (i64 i = blockIdx.x * static_cast<i64>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<i64>(gridDim.x) * blockDim.x) {
    const int ow = static_cast<int>(i % g.out_w);
    const i64 rest = i / g.out_w;
    const int oh = static_cast<int>(rest % g.out_h);
    const i64 plane = rest / g.out_h, c = plane % g.C;
    const T* src = in + plane * g.in_h * g.in_w;
    T acc = bias ? __ldg(bias + c) : T(0);
#pragma unroll
    for (int kh = 0; kh < 3; ++kh) {
      const int ih = oh * g.stride - g.pad + kh;
      if (ih < 0 || ih >= g.in_h) continue;
#pragma unroll
      for (int kw = 0; kw < 3; ++kw) {
        const int iw = ow * g.stride - g.pad + kw;
        if (iw < 0 || iw >= g.in_w) continue;
        const int k = kh * 3 + kw;
        acc += __ldg(weight + c * 9 + (flip ? 8 - k : k)) * __ldg(src + static_cast<i64>(ih) * g.in_w + iw);
      }
    }
    out[i] = relu_if(acc, relu);
  }
}

// dx[n, c, ih, iw] = sum of w[c, kh, kw] dy[n, c, oh, ow] over oh*s = ih + p - kh, ow*s = iw + p - kw.
template <class T>
__global__ void __launch_bounds__(256)
    depthwise_input_grad_gather(T* dx, const T* dy, const T* weight, Planes g, i64 total) {
  // Here in_* is the dy plane and out_* the dx plane.
  for (i64 i = blockIdx.x * static_cast<i64>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<i64>(gridDim.x) * blockDim.x) {
    const int iw = static_cast<int>(i % g.out_w);
    const i64 rest = i / g.out_w;
    const int ih = static_cast<int>(rest % g.out_h);
    const i64 plane = rest / g.out_h, c = plane % g.C;
    const T* src = dy + plane * g.in_h * g.in_w;
    T acc = T(0);
#pragma unroll
    for (int kh = 0; kh < 3; ++kh) {
      const int th = ih + g.pad - kh;
      if (th < 0 || th % g.stride != 0 || th / g.stride >= g.in_h) continue;
#pragma unroll
      for (int kw = 0; kw < 3; ++kw) {
        const int tw = iw + g.pad - kw;
        if (tw < 0 || tw % g.stride != 0 || tw / g.stride >= g.in_w) continue;
        acc +=
            __ldg(weight + c * 9 + kh * 3 + kw) * __ldg(src + static_cast<i64>(th / g.stride) * g.in_w + tw / g.stride);
      }
    }
    dx[i] = acc;
  }
}

constexpr int kSegmentRows = 8;

// partials[(c*chunks + j)*9 + k] = sum over chunk j of channel c's units of dy * x at tap k.
// Unit u = (n, segment, ow): column ow of 8 consecutive output rows of image n.
template <class T>
__global__ void __launch_bounds__(256)
    depthwise_weight_grad_partials(double* partials, const T* dy, const T* x, i64 N, int C, int H, int W, int H_out,
                                   int W_out, int stride, int pad, int chunks) {
  __shared__ double scratch[32 * 9];
  const i64 c = blockIdx.x / chunks;
  const int j = static_cast<int>(blockIdx.x % chunks);
  const int segments = (H_out + kSegmentRows - 1) / kSegmentRows;
  const i64 units = N * segments * W_out;
  const i64 u0 = units * j / chunks, u1 = units * (j + 1) / chunks;
  double acc[9] = {};
  for (i64 u = u0 + threadIdx.x; u < u1; u += blockDim.x) {
    const int ow = static_cast<int>(u % W_out);
    const i64 rest = u / W_out;
    const int segment = static_cast<int>(rest % segments);
    const i64 n = rest / segments;
    const T* xp = x + (n * C + c) * H * W;
    const T* dp = dy + (n * C + c) * H_out * W_out;
    const int iw = ow * stride - pad;
    bool column_inside[3];
#pragma unroll
    for (int kw = 0; kw < 3; ++kw) column_inside[kw] = iw + kw >= 0 && iw + kw < W;
    auto load_row = [&](int ih, T(&row)[3]) {
      const bool inside = ih >= 0 && ih < H;
#pragma unroll
      for (int kw = 0; kw < 3; ++kw)
        row[kw] = inside && column_inside[kw] ? __ldg(xp + static_cast<i64>(ih) * W + iw + kw) : T(0);
    };
    const int oh_begin = segment * kSegmentRows;
    const int oh_end = min(H_out, oh_begin + kSegmentRows);
    int ih = oh_begin * stride - pad;  // first window row
    T win[3][3];
    load_row(ih, win[0]);
    load_row(ih + 1, win[1]);
    load_row(ih + 2, win[2]);
    for (int oh = oh_begin; oh < oh_end; ++oh) {
      const double g = static_cast<double>(__ldg(dp + static_cast<i64>(oh) * W_out + ow));
#pragma unroll
      for (int kh = 0; kh < 3; ++kh)
#pragma unroll
        for (int kw = 0; kw < 3; ++kw) acc[kh * 3 + kw] += g * static_cast<double>(win[kh][kw]);
      if (oh + 1 == oh_end) break;
      ih += stride;  // slide the window down by `stride` rows, loading only the new ones
      if (stride == 1) {
#pragma unroll
        for (int kw = 0; kw < 3; ++kw) win[0][kw] = win[1][kw], win[1][kw] = win[2][kw];
        load_row(ih + 2, win[2]);
      } else if (stride == 2) {
#pragma unroll
        for (int kw = 0; kw < 3; ++kw) win[0][kw] = win[2][kw];
        load_row(ih + 1, win[1]);
        load_row(ih + 2, win[2]);
      } else {
        load_row(ih, win[0]);
        load_row(ih + 1, win[1]);
        load_row(ih + 2, win[2]);
      }
    }
  }
  block_sum(acc, scratch);
  if (threadIdx.x == 0)
#pragma unroll
    for (int k = 0; k < 9; ++k) partials[(c * chunks + j) * 9 + k] = acc[k];
}

// dweight[c*9 + k] = sum of channel c's chunks in order.
template <class T>
__global__ void depthwise_weight_grad_finish(T* dweight, const double* partials, i64 C, int chunks) {
  const i64 i = blockIdx.x * static_cast<i64>(blockDim.x) + threadIdx.x;
  if (i >= C * 9) return;
  const i64 c = i / 9;
  const int k = static_cast<int>(i % 9);
  double total = 0;
  for (int j = 0; j < chunks; ++j) total += partials[(c * chunks + j) * 9 + k];
  dweight[i] = static_cast<T>(total);
}

// Grid of a grid-stride kernel over n items: enough blocks for 8 per SM, no more than needed.
unsigned grid_for(i64 n) {
  return static_cast<unsigned>(std::clamp<i64>(blocks_for(n, 256), 1, 8 * sm_count()));
}

// out planes = the 3x3 filter of in planes (per channel c of g.C), tiled when the
// output is wide enough and the stride is 1 or 2.
template <class T>
void filter_planes(T* out, const T* in, const T* weight, const T* bias, const Planes& g, i64 planes, bool flip,
                   bool relu) {
  const i64 total = planes * g.out_h * g.out_w;
  if (total == 0) return;
  if ((g.stride == 1 || g.stride == 2) && g.out_w >= kTiledMinWidth) {
    const int tiles_h = (g.out_h + kTile - 1) / kTile, tiles_w = (g.out_w + kTile - 1) / kTile;
    const i64 blocks = planes * tiles_h * tiles_w;
    CXR_CHECK(blocks < (i64{1} << 31), "depthwise conv2d: {} planes are too many for one launch", planes);
    if (g.stride == 1)
      depthwise_forward_tiled<T, 1>
          <<<static_cast<unsigned>(blocks), 256, 0, stream()>>>(out, in, weight, bias, g, tiles_h, tiles_w, flip, relu);
    else
      depthwise_forward_tiled<T, 2>
          <<<static_cast<unsigned>(blocks), 256, 0, stream()>>>(out, in, weight, bias, g, tiles_h, tiles_w, flip, relu);
  } else {
    depthwise_forward_direct<T><<<grid_for(total), 256, 0, stream()>>>(out, in, weight, bias, g, total, flip, relu);
  }
  CXR_CUDA_LAUNCH_CHECK();
}

void check_geometry(const Conv2dShape& s) {
  CXR_CHECK(s.H * s.W < (i64{1} << 31) && s.H_out * s.W_out < (i64{1} << 31) && s.C_in < (i64{1} << 31),
            "depthwise conv2d: {} channels of {}x{} are too large for the CUDA kernels", s.C_in, s.H, s.W);
}

}  // namespace

template <class T>
void depthwise_conv2d_forward(T* y, const T* x, const T* weight, const T* bias, const Conv2dShape& s, bool relu) {
  check_geometry(s);
  const Planes g{static_cast<int>(s.C_in),   static_cast<int>(s.H),     static_cast<int>(s.W),
                 static_cast<int>(s.H_out),  static_cast<int>(s.W_out), static_cast<int>(s.stride),
                 static_cast<int>(s.padding)};
  filter_planes(y, x, weight, bias, g, s.N * s.C_in, false, relu);
}

template <class T>
void depthwise_conv2d_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight,
                               const Conv2dShape& s) {
  check_geometry(s);
  const int C = static_cast<int>(s.C_in), H = static_cast<int>(s.H), W = static_cast<int>(s.W);
  const int H_out = static_cast<int>(s.H_out), W_out = static_cast<int>(s.W_out);
  const int stride = static_cast<int>(s.stride), pad = static_cast<int>(s.padding);
  if (dbias) cuda::conv2d_bias_backward(dbias, dy, s);
  if (dx) {
    if (stride == 1) {
      // dx = dy filtered with the flipped kernel and padding 2 - p (negative when p > 2: a crop).
      filter_planes(dx, dy, weight, static_cast<const T*>(nullptr), Planes{C, H_out, W_out, H, W, 1, 2 - pad}, s.N * C,
                    true, false);
    } else {
      const i64 total = s.N * C * s.H * s.W;
      if (total > 0) {
        depthwise_input_grad_gather<T>
            <<<grid_for(total), 256, 0, stream()>>>(dx, dy, weight, Planes{C, H_out, W_out, H, W, stride, pad}, total);
        CXR_CUDA_LAUNCH_CHECK();
      }
    }
  }
  if (dweight && C > 0) {
    const i64 units = s.N * ((H_out + kSegmentRows - 1) / kSegmentRows) * W_out;
    const i64 by_occupancy = (8 * static_cast<i64>(sm_count()) + C - 1) / C;
    const int chunks = static_cast<int>(std::clamp<i64>(std::min(by_occupancy, (units + 255) / 256), 1, 1024));
    DeviceArray<double> partials(static_cast<i64>(C) * chunks * 9);
    depthwise_weight_grad_partials<T><<<static_cast<unsigned>(static_cast<i64>(C) * chunks), 256, 0, stream()>>>(
        partials.get(), dy, x, s.N, C, H, W, H_out, W_out, stride, pad, chunks);
    CXR_CUDA_LAUNCH_CHECK();
    depthwise_weight_grad_finish<T>
        <<<blocks_for(static_cast<i64>(C) * 9, 256), 256, 0, stream()>>>(dweight, partials.get(), C, chunks);
    CXR_CUDA_LAUNCH_CHECK();
  }
}

#define CXR_INSTANTIATE(T)                                                                               \
  template void depthwise_conv2d_forward<T>(T*, const T*, const T*, const T*, const Conv2dShape&, bool); \
  template void depthwise_conv2d_backward<T>(T*, T*, T*, const T*, const T*, const T*, const Conv2dShape&);
CXR_INSTANTIATE(float)
CXR_INSTANTIATE(double)
#undef CXR_INSTANTIATE

}  // namespace cxr::cuda
