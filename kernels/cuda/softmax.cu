// Row-wise softmax, log-softmax, cross-entropy and label-set cross-entropy (formulas:
// kernels/cpu/softmax.h).
//
// Shape legend: N rows, C classes.
// Decomposition: one warp per row, kRowsPerBlock rows per block. Lane l handles the
// columns l, l + 32, ...; the row's max and sums are combined across the warp with a
// butterfly of shuffles (every lane ends with the same value, in an order fixed by the
// lane indices). Classifier logits have a handful of classes, so a warp per row
// keeps the work parallel over the batch instead of over the few columns. Sums are in
// T, as on the CPU; the order differs, so results agree with the CPU to rounding.
// The loss needs sums over the rows: one block adds w[y_i] * logp[i, y_i] and w[y_i]
// in double with a fixed-order block reduction (deterministic).
// Label-set cross-entropy reduces the same way, w_i * log P_i and w_i; each thread
// computes its rows' log P_i over the C <= 32 columns in the CPU's order. In the
// backward every admissible element recomputes its row's log P_i (at most 32 terms),
// which costs less than a second pass and a buffer of N values.
#include "kernels/cuda/softmax.h"

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/reduce.cuh"
#include "kernels/cuda/runtime.h"

#include <cstdint>

namespace cxr::cuda {

namespace {

constexpr int kRowsPerBlock = 8;  // 8 warps, 256 threads
constexpr int kLossThreads = 256;

__device__ __forceinline__ float exp_of(float v) {
  return expf(v);
}
__device__ __forceinline__ double exp_of(double v) {
  return exp(v);
}
__device__ __forceinline__ float log_of(float v) {
  return logf(v);
}
__device__ __forceinline__ double log_of(double v) {
  return log(v);
}

template <class T>
__device__ __forceinline__ T warp_max(T v) {
  for (int offset = 16; offset > 0; offset /= 2) {
    const T other = __shfl_xor_sync(0xffffffffu, v, offset);
    v = other > v ? other : v;
  }
  return v;
}

template <class T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// The row this warp handles, or -1 past the end (the whole warp returns together).
__device__ __forceinline__ std::int64_t warp_row(std::int64_t N) {
  const std::int64_t row = static_cast<std::int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  return row < N ? row : -1;
}

// Max of the row; -inf lanes with no column lose to any value.
template <class T>
__device__ __forceinline__ T row_max(const T* xr, std::int64_t C, int lane) {
  T m = xr[0];
  for (std::int64_t j = lane; j < C; j += 32) m = xr[j] > m ? xr[j] : m;
  return warp_max(m);
}

template <class T>
__global__ void softmax_kernel(T* out, const T* x, std::int64_t N, std::int64_t C) {
  const std::int64_t r = warp_row(N);
  if (r < 0) return;
  const int lane = threadIdx.x % 32;
  const T* xr = x + r * C;
  T* yr = out + r * C;
  const T max = row_max(xr, C, lane);
  T sum = 0;
  for (std::int64_t j = lane; j < C; j += 32) {
    yr[j] = exp_of(xr[j] - max);
    sum += yr[j];
  }
  const T inv_sum = T(1) / warp_sum(sum);
  for (std::int64_t j = lane; j < C; j += 32) yr[j] *= inv_sum;
}

template <class T>
__global__ void softmax_backward_kernel(T* dx, const T* out, const T* dout, std::int64_t N, std::int64_t C) {
  const std::int64_t r = warp_row(N);
  if (r < 0) return;
  const int lane = threadIdx.x % 32;
  const T* y = out + r * C;
  const T* dy = dout + r * C;
  T dot = 0;
  for (std::int64_t j = lane; j < C; j += 32) dot += dy[j] * y[j];
  dot = warp_sum(dot);
  for (std::int64_t j = lane; j < C; j += 32) dx[r * C + j] = y[j] * (dy[j] - dot);
}

template <class T>
__global__ void log_softmax_kernel(T* out, const T* x, std::int64_t N, std::int64_t C) {
  const std::int64_t r = warp_row(N);
  if (r < 0) return;
  const int lane = threadIdx.x % 32;
  const T* xr = x + r * C;
  const T max = row_max(xr, C, lane);
  T sum = 0;
  for (std::int64_t j = lane; j < C; j += 32) sum += exp_of(xr[j] - max);
  const T log_sum = log_of(warp_sum(sum));
  for (std::int64_t j = lane; j < C; j += 32) out[r * C + j] = xr[j] - max - log_sum;
}

template <class T>
__global__ void log_softmax_backward_kernel(T* dx, const T* out, const T* dout, std::int64_t N, std::int64_t C) {
  const std::int64_t r = warp_row(N);
  if (r < 0) return;
  const int lane = threadIdx.x % 32;
  const T* y = out + r * C;
  const T* dy = dout + r * C;
  T sum = 0;
  for (std::int64_t j = lane; j < C; j += 32) sum += dy[j];
  sum = warp_sum(sum);
  for (std::int64_t j = lane; j < C; j += 32) dx[r * C + j] = dy[j] - exp_of(y[j]) * sum;
}

// sums[0] = sum_i w[y_i] * logp[i, y_i], sums[1] = sum_i w[y_i] (w = 1 without weights).
template <class T>
__global__ void __launch_bounds__(kLossThreads) weighted_nll_kernel(double* sums, const T* logp, const int* labels,
                                                                    const T* weights, std::int64_t N, std::int64_t C) {
  __shared__ double scratch[32];
  double picked = 0, total = 0;
  for (std::int64_t i = threadIdx.x; i < N; i += blockDim.x) {
    const double w = weights ? static_cast<double>(weights[labels[i]]) : 1.0;
    picked += w * static_cast<double>(logp[i * C + labels[i]]);
    total += w;
  }
  picked = block_reduce_sum(picked, scratch);
  __syncthreads();  // scratch is reused
  total = block_reduce_sum(total, scratch);
  if (threadIdx.x == 0) sums[0] = picked, sums[1] = total;
}

// dlogits_ij = dloss * w[y_i] / sum_k w[y_k] * (exp(logp_ij) - [j == y_i]); sums[1] from weighted_nll_kernel.
template <class T>
__global__ void cross_entropy_backward_kernel(T* dlogits, const T* logp, const int* labels, const T* weights,
                                              const double* sums, double dloss, std::int64_t N, std::int64_t C) {
  const double scale = dloss / sums[1];
  for (std::int64_t k = first_index(); k < N * C; k += grid_stride()) {
    const std::int64_t i = k / C, j = k % C;
    const double w = weights ? static_cast<double>(weights[labels[i]]) : 1.0;
    const T coef = static_cast<T>(scale * w);
    const T g = coef * exp_of(logp[k]);
    dlogits[k] = j == labels[i] ? g - coef : g;
  }
}

__device__ __forceinline__ bool admissible(std::uint32_t mask, std::int64_t c) {
  return (mask >> c) & 1u;
}

// log P = log sum_{c in S} exp(logp_c) with the largest term taken out, as on the CPU.
template <class T>
__device__ T masked_log_sum_exp(const T* logp, std::uint32_t mask, std::int64_t C) {
  T max = -static_cast<T>(INFINITY);
  for (std::int64_t c = 0; c < C; ++c)
    if (admissible(mask, c)) max = logp[c] > max ? logp[c] : max;
  T sum = 0;
  for (std::int64_t c = 0; c < C; ++c)
    if (admissible(mask, c)) sum += exp_of(logp[c] - max);
  return max + log_of(sum);
}

// w_i = mean of w[c] over the set (1 without weights).
template <class T>
__device__ double set_weight(const T* weights, std::uint32_t mask, std::int64_t C) {
  if (!weights) return 1.0;
  double sum = 0;
  int count = 0;
  for (std::int64_t c = 0; c < C; ++c)
    if (admissible(mask, c)) {
      sum += static_cast<double>(weights[c]);
      ++count;
    }
  return sum / count;
}

// sums[0] = sum_i w_i * log P_i, sums[1] = sum_i w_i.
template <class T>
__global__ void __launch_bounds__(kLossThreads)
    weighted_set_nll_kernel(double* sums, const T* logp, const std::uint32_t* masks, const T* weights, std::int64_t N,
                            std::int64_t C) {
  __shared__ double scratch[32];
  double picked = 0, total = 0;
  for (std::int64_t i = threadIdx.x; i < N; i += blockDim.x) {
    const double w = set_weight(weights, masks[i], C);
    picked += w * static_cast<double>(masked_log_sum_exp(logp + i * C, masks[i], C));
    total += w;
  }
  picked = block_reduce_sum(picked, scratch);
  __syncthreads();  // scratch is reused
  total = block_reduce_sum(total, scratch);
  if (threadIdx.x == 0) sums[0] = picked, sums[1] = total;
}

// dlogits_ij = dloss * w_i / sum_k w_k * (exp(logp_ij) - [j in S_i] * exp(logp_ij - log P_i));
// sums[1] from weighted_set_nll_kernel.
template <class T>
__global__ void label_set_cross_entropy_backward_kernel(T* dlogits, const T* logp, const std::uint32_t* masks,
                                                        const T* weights, const double* sums, double dloss,
                                                        std::int64_t N, std::int64_t C) {
  const double scale = dloss / sums[1];
  for (std::int64_t k = first_index(); k < N * C; k += grid_stride()) {
    const std::int64_t i = k / C, j = k % C;
    const T coef = static_cast<T>(scale * set_weight(weights, masks[i], C));
    const T g = coef * exp_of(logp[k]);
    dlogits[k] =
        admissible(masks[i], j) ? g - coef * exp_of(logp[k] - masked_log_sum_exp(logp + i * C, masks[i], C)) : g;
  }
}

unsigned int row_blocks(std::int64_t N) {
  const std::int64_t blocks = (N + kRowsPerBlock - 1) / kRowsPerBlock;
  CXR_CHECK(blocks < (std::int64_t{1} << 31), "softmax: {} rows are too many", N);
  return static_cast<unsigned int>(blocks);
}

}  // namespace

template <class T>
void softmax_forward(T* out, const T* x, std::int64_t N, std::int64_t C) {
  if (N <= 0 || C <= 0) return;
  softmax_kernel<<<row_blocks(N), kRowsPerBlock * 32, 0, stream()>>>(out, x, N, C);
  CXR_CUDA_LAUNCH_CHECK();
}

template <class T>
void softmax_backward(T* dx, const T* out, const T* dout, std::int64_t N, std::int64_t C) {
  if (N <= 0 || C <= 0) return;
  softmax_backward_kernel<<<row_blocks(N), kRowsPerBlock * 32, 0, stream()>>>(dx, out, dout, N, C);
  CXR_CUDA_LAUNCH_CHECK();
}

template <class T>
void log_softmax_forward(T* out, const T* x, std::int64_t N, std::int64_t C) {
  if (N <= 0 || C <= 0) return;
  log_softmax_kernel<<<row_blocks(N), kRowsPerBlock * 32, 0, stream()>>>(out, x, N, C);
  CXR_CUDA_LAUNCH_CHECK();
}

template <class T>
void log_softmax_backward(T* dx, const T* out, const T* dout, std::int64_t N, std::int64_t C) {
  if (N <= 0 || C <= 0) return;
  log_softmax_backward_kernel<<<row_blocks(N), kRowsPerBlock * 32, 0, stream()>>>(dx, out, dout, N, C);
  CXR_CUDA_LAUNCH_CHECK();
}

template <class T>
double cross_entropy_forward(T* logp, const T* logits, const int* labels, const T* weights, std::int64_t N,
                             std::int64_t C) {
  log_softmax_forward(logp, logits, N, C);
  DeviceArray<double> sums(2);
  weighted_nll_kernel<<<1, kLossThreads, 0, stream()>>>(sums.get(), logp, labels, weights, N, C);
  CXR_CUDA_LAUNCH_CHECK();
  double host[2];
  copy_bytes(host, false, sums.get(), true, sizeof(host));
  return -host[0] / host[1];
}

template <class T>
void cross_entropy_backward(T* dlogits, const T* logp, const int* labels, const T* weights, double dloss,
                            std::int64_t N, std::int64_t C) {
  if (N <= 0 || C <= 0) return;
  DeviceArray<double> sums(2);  // freed at once: later work on the stream is queued behind ours
  weighted_nll_kernel<<<1, kLossThreads, 0, stream()>>>(sums.get(), logp, labels, weights, N, C);
  CXR_CUDA_LAUNCH_CHECK();
  cross_entropy_backward_kernel<<<grid_stride_blocks(N * C), kElementThreads, 0, stream()>>>(
      dlogits, logp, labels, weights, sums.get(), dloss, N, C);
  CXR_CUDA_LAUNCH_CHECK();
}

template <class T>
double label_set_cross_entropy_forward(T* logp, const T* logits, const std::uint32_t* masks, const T* weights,
                                       std::int64_t N, std::int64_t C) {
  log_softmax_forward(logp, logits, N, C);
  DeviceArray<double> sums(2);
  weighted_set_nll_kernel<<<1, kLossThreads, 0, stream()>>>(sums.get(), logp, masks, weights, N, C);
  CXR_CUDA_LAUNCH_CHECK();
  double host[2];
  copy_bytes(host, false, sums.get(), true, sizeof(host));
  return -host[0] / host[1];
}

template <class T>
void label_set_cross_entropy_backward(T* dlogits, const T* logp, const std::uint32_t* masks, const T* weights,
                                      double dloss, std::int64_t N, std::int64_t C) {
  if (N <= 0 || C <= 0) return;
  DeviceArray<double> sums(2);  // freed at once: later work on the stream is queued behind ours
  weighted_set_nll_kernel<<<1, kLossThreads, 0, stream()>>>(sums.get(), logp, masks, weights, N, C);
  CXR_CUDA_LAUNCH_CHECK();
  label_set_cross_entropy_backward_kernel<<<grid_stride_blocks(N * C), kElementThreads, 0, stream()>>>(
      dlogits, logp, masks, weights, sums.get(), dloss, N, C);
  CXR_CUDA_LAUNCH_CHECK();
}

#define CXR_INSTANTIATE(T)                                                                                         \
  template void softmax_forward<T>(T*, const T*, std::int64_t, std::int64_t);                                      \
  template void softmax_backward<T>(T*, const T*, const T*, std::int64_t, std::int64_t);                           \
  template void log_softmax_forward<T>(T*, const T*, std::int64_t, std::int64_t);                                  \
  template void log_softmax_backward<T>(T*, const T*, const T*, std::int64_t, std::int64_t);                       \
  template double cross_entropy_forward<T>(T*, const T*, const int*, const T*, std::int64_t, std::int64_t);        \
  template void cross_entropy_backward<T>(T*, const T*, const int*, const T*, double, std::int64_t, std::int64_t); \
  template double label_set_cross_entropy_forward<T>(T*, const T*, const std::uint32_t*, const T*, std::int64_t,   \
                                                     std::int64_t);                                                \
  template void label_set_cross_entropy_backward<T>(T*, const T*, const std::uint32_t*, const T*, double,          \
                                                    std::int64_t, std::int64_t);
CXR_INSTANTIATE(float)
CXR_INSTANTIATE(double)
#undef CXR_INSTANTIATE

}  // namespace cxr::cuda
