// Batch normalisation: two-pass channel statistics, per-channel finishing kernels
// and per-map elementwise passes (see batch_norm.h).
#include "kernels/cuda/batch_norm.h"

#include "kernels/cuda/channel_reduce.cuh"

#include <algorithm>
#include <initializer_list>

namespace cxr::cuda {

namespace {

using i64 = std::int64_t;

// ---- per-map elementwise passes -----------------------------------------------------------

template <class T, int V>
__device__ __forceinline__ void load_n(T (&v)[V], const T* p) {
  if constexpr (V == 1)
    v[0] = __ldg(p);
  else
    load_vec(v, p);
}
template <class T, int V>
__device__ __forceinline__ void store_n(T* p, const T (&v)[V]) {
  if constexpr (V == 1)
    p[0] = v[0];
  else
    store_vec(p, v);
}

// Block (map, segment): f.begin(c) once, then f.template apply<V>(state, index) over
// the segment, V = 16 bytes of T when `vectorised` (maps and pointers aligned), else 1.
template <class T, class F>
__global__ void map_kernel(F f, i64 C, i64 HW, int segments, i64 segment_length, bool vectorised) {
  constexpr int W = 16 / sizeof(T);
  const i64 map = blockIdx.x / segments;
  const i64 lo = blockIdx.x % segments * segment_length;
  const i64 hi = lo + segment_length < HW ? lo + segment_length : HW;
  const auto state = f.begin(map % C);
  const i64 base = map * HW;
  if (vectorised) {
    for (i64 p = lo + threadIdx.x * W; p < hi; p += static_cast<i64>(blockDim.x) * W)
      f.template apply<W>(state, base + p);
  } else {
    for (i64 p = lo + threadIdx.x; p < hi; p += blockDim.x) f.template apply<1>(state, base + p);
  }
}

template <class T>
bool aligned16(const T* p) {
  return !p || reinterpret_cast<std::uintptr_t>(p) % 16 == 0;
}

// Runs f over every element of the N*C maps of HW values; `pointers` are the
// arrays f touches (null entries ignored), checked for 16-byte alignment.
template <class T, class F>
void launch_map(const F& f, i64 N, i64 C, i64 HW, std::initializer_list<const T*> pointers) {
  constexpr i64 W = 16 / sizeof(T), kMaxSegment = 8192;
  if (N * C * HW == 0) return;
  bool vectorised = HW % W == 0;
  for (const T* p : pointers) vectorised = vectorised && aligned16(p);
  const i64 segments = (HW + kMaxSegment - 1) / kMaxSegment;
  const i64 step = vectorised ? W : 1;
  const i64 length = ((HW + segments - 1) / segments + step - 1) / step * step;
  const i64 blocks = N * C * segments;
  CXR_CHECK(blocks < (i64{1} << 31), "batch norm: {} maps of {} values are too many for one launch", N * C, HW);
  // Small maps (the late layers) get a block no wider than their work.
  const i64 work = (length + step - 1) / step;
  const int threads = static_cast<int>(std::clamp<i64>((work + 31) / 32 * 32, 32, 256));
  map_kernel<T><<<static_cast<unsigned>(blocks), threads, 0, stream()>>>(f, C, HW, static_cast<int>(segments), length,
                                                                         vectorised);
  CXR_CUDA_LAUNCH_CHECK();
}

// out = (x - mean[c]) * scale[c] + beta[c], then max(out, 0) when relu.
template <class T>
struct Normalise {
  T* out;
  const T *x, *mean, *scale, *beta;
  bool relu;
  struct State {
    T mean, scale, beta;
  };
  __device__ State begin(i64 c) const { return {mean[c], scale[c], beta[c]}; }
  template <int V>
  __device__ void apply(const State& s, i64 at) const {
    T v[V];
    load_n(v, x + at);
#pragma unroll
    for (int i = 0; i < V; ++i) {
      v[i] = (v[i] - s.mean) * s.scale + s.beta;
      if (relu && v[i] < T(0)) v[i] = T(0);  // std::max(v, 0) as the CPU: NaN stays NaN
    }
    store_n(out + at, v);
  }
};

// dx = k_dy * g + k_xc * (x - mean) + k_0 (training) or k_dy * g (evaluation),
// g = dy masked by relu_out > 0 when the forward was fused with a ReLU.
template <class T>
struct InputGrad {
  T* dx;
  const T *dy, *x, *relu_out, *mean, *coef;  // coef: k_dy [C], k_xc [C], k_0 [C]
  i64 C;
  bool training;
  struct State {
    T mean, k_dy, k_xc, k_0;
  };
  __device__ State begin(i64 c) const { return {mean[c], coef[c], coef[C + c], coef[2 * C + c]}; }
  template <int V>
  __device__ void apply(const State& s, i64 at) const {
    T g[V], r[V], xv[V];
    load_n(g, dy + at);
    if (relu_out) {
      load_n(r, relu_out + at);
#pragma unroll
      for (int i = 0; i < V; ++i)
        if (!(r[i] > T(0))) g[i] = T(0);
    }
    if (training) {
      load_n(xv, x + at);
#pragma unroll
      for (int i = 0; i < V; ++i) g[i] = s.k_dy * g[i] + s.k_xc * (xv[i] - s.mean) + s.k_0;
    } else {
#pragma unroll
      for (int i = 0; i < V; ++i) g[i] = s.k_dy * g[i];
    }
    store_n(dx + at, g);
  }
};

// ---- channel sums and their finishing kernels ---------------------------------------------

// sum(x - shift), sum((x - shift)^2) with shift = the channel's first value.
template <class T>
struct ShiftedSums {
  const T* x;
  i64 HW;
  __device__ double begin(i64 c) const { return static_cast<double>(__ldg(x + c * HW)); }
  __device__ void add(double shift, i64 at, double (&acc)[2]) const {
    const double d = static_cast<double>(__ldg(x + at)) - shift;
    acc[0] += d;
    acc[1] += d * d;
  }
};

// sum(g), sum(g * (x - mean)) with g = dy masked by relu_out; the product in T as the CPU.
template <class T>
struct GradientSums {
  const T *dy, *x, *relu_out, *mean;
  __device__ T begin(i64 c) const { return mean[c]; }
  __device__ void add(T m, i64 at, double (&acc)[2]) const {
    const T g = relu_out && !(__ldg(relu_out + at) > T(0)) ? T(0) : __ldg(dy + at);
    acc[0] += static_cast<double>(g);
    acc[1] += static_cast<double>(g * (__ldg(x + at) - m));
  }
};

template <class T>
__global__ void train_statistics_kernel(T* save_mean, T* save_invstd, T* running_mean, T* running_var, T* scale,
                                        const double* partials, int chunks, const T* x, const T* gamma, i64 C, i64 HW,
                                        double M, double momentum, double eps) {
  const i64 c = blockIdx.x * static_cast<i64>(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  const double shift = static_cast<double>(x[c * HW]);
  const double shifted_mean = channel_total<2>(partials, c, chunks, 0) / M;
  const double mean = shift + shifted_mean;
  const double var = fmax(0.0, channel_total<2>(partials, c, chunks, 1) / M - shifted_mean * shifted_mean);
  const double invstd = 1.0 / sqrt(var + eps);
  save_mean[c] = static_cast<T>(mean);
  save_invstd[c] = static_cast<T>(invstd);
  const double unbiased_var = var * M / (M - 1);
  running_mean[c] = static_cast<T>((1 - momentum) * static_cast<double>(running_mean[c]) + momentum * mean);
  running_var[c] = static_cast<T>((1 - momentum) * static_cast<double>(running_var[c]) + momentum * unbiased_var);
  scale[c] = static_cast<T>(static_cast<double>(gamma[c]) * invstd);
}

template <class T>
__global__ void eval_statistics_kernel(T* save_invstd, T* scale, const T* gamma, const T* running_var, i64 C,
                                       double eps) {
  const i64 c = blockIdx.x * static_cast<i64>(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  save_invstd[c] = static_cast<T>(1.0 / sqrt(static_cast<double>(running_var[c]) + eps));
  scale[c] = static_cast<T>(static_cast<double>(gamma[c]) * static_cast<double>(save_invstd[c]));
}

template <class T>
__global__ void gradient_finish_kernel(T* dgamma, T* dbeta, T* coef, const double* partials, int chunks,
                                       const T* invstd, const T* gamma, i64 C, double M) {
  const i64 c = blockIdx.x * static_cast<i64>(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  const double sum_dy = channel_total<2>(partials, c, chunks, 0);
  const double sum_dy_xc = channel_total<2>(partials, c, chunks, 1);
  const double is = static_cast<double>(invstd[c]);
  dbeta[c] = static_cast<T>(sum_dy);
  dgamma[c] = static_cast<T>(sum_dy_xc * is);  // sum(dy * xhat)
  const double k_dy = static_cast<double>(gamma[c]) * is;
  coef[c] = static_cast<T>(k_dy);
  coef[C + c] = static_cast<T>(-k_dy * is * is * sum_dy_xc / M);
  coef[2 * C + c] = static_cast<T>(-k_dy * sum_dy / M);
}

unsigned channel_blocks(i64 C) {
  return blocks_for(C, 256);
}

}  // namespace

template <class T>
void batch_norm_forward_train(T* out, T* save_mean, T* save_invstd, T* running_mean, T* running_var, const T* x,
                              const T* gamma, const T* beta, i64 N, i64 C, i64 HW, double momentum, double eps,
                              bool relu) {
  if (C == 0) return;
  const i64 M = N * HW;
  CXR_CHECK(M >= 2, "batch norm: training needs at least 2 values per channel, got {}", M);
  const int chunks = channel_chunks(C, M);
  DeviceArray<double> partials(C * chunks * 2);
  DeviceArray<T> scale(C);
  launch_channel_partials<2>(partials.get(), ShiftedSums<T>{x, HW}, N, C, HW, chunks);
  train_statistics_kernel<T><<<channel_blocks(C), 256, 0, stream()>>>(save_mean, save_invstd, running_mean, running_var,
                                                                      scale.get(), partials.get(), chunks, x, gamma, C,
                                                                      HW, static_cast<double>(M), momentum, eps);
  CXR_CUDA_LAUNCH_CHECK();
  launch_map<T>(Normalise<T>{out, x, save_mean, scale.get(), beta, relu}, N, C, HW, {out, x});
}

template <class T>
void batch_norm_forward_eval(T* out, T* save_invstd, const T* x, const T* gamma, const T* beta, const T* running_mean,
                             const T* running_var, i64 N, i64 C, i64 HW, double eps, bool relu) {
  if (C == 0) return;
  DeviceArray<T> scale(C);
  eval_statistics_kernel<T>
      <<<channel_blocks(C), 256, 0, stream()>>>(save_invstd, scale.get(), gamma, running_var, C, eps);
  CXR_CUDA_LAUNCH_CHECK();
  launch_map<T>(Normalise<T>{out, x, running_mean, scale.get(), beta, relu}, N, C, HW, {out, x});
}

template <class T>
void batch_norm_backward(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x, const T* mean, const T* invstd,
                         const T* gamma, i64 N, i64 C, i64 HW, bool training, const T* relu_out) {
  if (C == 0) return;
  const i64 M = N * HW;
  const int chunks = channel_chunks(C, M);
  DeviceArray<double> partials(C * chunks * 2);
  DeviceArray<T> coef(3 * C);
  launch_channel_partials<2>(partials.get(), GradientSums<T>{dy, x, relu_out, mean}, N, C, HW, chunks);
  gradient_finish_kernel<T><<<channel_blocks(C), 256, 0, stream()>>>(dgamma, dbeta, coef.get(), partials.get(), chunks,
                                                                     invstd, gamma, C, static_cast<double>(M));
  CXR_CUDA_LAUNCH_CHECK();
  if (dx)
    launch_map<T>(InputGrad<T>{dx, dy, x, relu_out, mean, coef.get(), C, training}, N, C, HW,
                  {dx, dy, training ? x : nullptr, relu_out});
}

#define CXR_INSTANTIATE(T)                                                                                           \
  template void batch_norm_forward_train<T>(T*, T*, T*, T*, T*, const T*, const T*, const T*, i64, i64, i64, double, \
                                            double, bool);                                                           \
  template void batch_norm_forward_eval<T>(T*, T*, const T*, const T*, const T*, const T*, const T*, i64, i64, i64,  \
                                           double, bool);                                                            \
  template void batch_norm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*, i64, i64, i64,  \
                                       bool, const T*);
CXR_INSTANTIATE(float)
CXR_INSTANTIATE(double)
#undef CXR_INSTANTIATE

}  // namespace cxr::cuda
