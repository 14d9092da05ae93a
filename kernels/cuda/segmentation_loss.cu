// Segmentation losses: binary cross-entropy with logits and the soft Dice loss.
//
// Shape legend: n elements; maps = N*C maps of HW pixels (NCHW, contiguous).
// Decomposition: the BCE sum goes through the fixed-order reduction of reduce.cuh;
// the Dice statistics take one block per map, its threads striding over the map's
// pixels (coalesced) and combining in a fixed order (block_reduce_sum), so both are
// deterministic. Backward passes are one thread per element. All sums are in double;
// exp and log1p differ from glibc's by a few ulps, so values match the CPU within a
// small relative tolerance.
#include "kernels/cuda/segmentation_loss.h"

#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/reduce.cuh"

#include <vector>

namespace cxr::cuda {

namespace {

constexpr int kDiceThreads = 256;

__device__ __forceinline__ double sigmoid_of(double x) {
  if (x >= 0) return 1.0 / (1.0 + exp(-x));
  const double e = exp(x);
  return e / (1.0 + e);
}

template <class T>
struct BceTerm {
  const T* logits;
  const T* targets;
  __device__ double operator()(std::int64_t i) const {
    const double x = logits[i], t = targets[i];
    return fmax(x, 0.0) - x * t + log1p(exp(-fabs(x)));
  }
};

template <class T>
__global__ void bce_backward_kernel(T* dlogits, const T* logits, const T* targets, double scale, std::int64_t n) {
  for (std::int64_t i = first_index(); i < n; i += grid_stride())
    dlogits[i] = static_cast<T>(scale * (sigmoid_of(logits[i]) - static_cast<double>(targets[i])));
}

// Block m: stats[3m .. 3m+2] = sum p*t, sum p, sum t over map m.
template <class T>
__global__ void __launch_bounds__(kDiceThreads)
    dice_stats_kernel(double* stats, const T* probs, const T* targets, std::int64_t HW) {
  __shared__ double scratch[32];
  const std::int64_t m = blockIdx.x;
  const T* p = probs + m * HW;
  const T* t = targets + m * HW;
  double inter = 0, psum = 0, tsum = 0;
  for (std::int64_t i = threadIdx.x; i < HW; i += blockDim.x) {
    const double pi = p[i], ti = t[i];
    inter += pi * ti;
    psum += pi;
    tsum += ti;
  }
  const double sums[3] = {inter, psum, tsum};
  for (int k = 0; k < 3; ++k) {
    const double total = block_reduce_sum(sums[k], scratch);
    if (threadIdx.x == 0) stats[3 * m + k] = total;
    __syncthreads();  // scratch is reused by the next sum
  }
}

template <class T>
__global__ void dice_backward_kernel(T* dprobs, const double* stats, const T* targets, double per_map, double smooth,
                                     std::int64_t HW, std::int64_t n) {
  for (std::int64_t i = first_index(); i < n; i += grid_stride()) {
    const std::int64_t m = i / HW;
    const double numerator = 2 * stats[3 * m] + smooth;
    const double denominator = stats[3 * m + 1] + stats[3 * m + 2] + smooth;
    const double scale = -per_map / (denominator * denominator);
    dprobs[i] = static_cast<T>(scale * (2 * static_cast<double>(targets[i]) * denominator - numerator));
  }
}

}  // namespace

template <class T>
double bce_with_logits_forward(const T* logits, const T* targets, std::int64_t n) {
  return reduce_sum(BceTerm<T>{logits, targets}, n) / static_cast<double>(n);
}

template <class T>
void bce_with_logits_backward(T* dlogits, const T* logits, const T* targets, double dloss, std::int64_t n) {
  if (n <= 0) return;
  bce_backward_kernel<<<grid_stride_blocks(n), kElementThreads, 0, stream()>>>(dlogits, logits, targets,
                                                                               dloss / static_cast<double>(n), n);
  CXR_CUDA_LAUNCH_CHECK();
}

template <class T>
double soft_dice_forward(double* stats, const T* probs, const T* targets, std::int64_t maps, std::int64_t HW,
                         double smooth) {
  if (maps <= 0) return 0.0;
  CXR_CHECK(maps < (std::int64_t{1} << 31), "soft_dice_forward: {} maps are too many", maps);
  dice_stats_kernel<<<static_cast<unsigned>(maps), kDiceThreads, 0, stream()>>>(stats, probs, targets, HW);
  CXR_CUDA_LAUNCH_CHECK();
  std::vector<double> host(static_cast<std::size_t>(3 * maps));
  copy_bytes(host.data(), false, stats, true, host.size() * sizeof(double));
  double loss = 0;  // summed on the host in map order, as the CPU does
  for (std::int64_t m = 0; m < maps; ++m)
    loss += 1.0 - (2 * host[3 * m] + smooth) / (host[3 * m + 1] + host[3 * m + 2] + smooth);
  return loss / static_cast<double>(maps);
}

template <class T>
void soft_dice_backward(T* dprobs, const double* stats, const T* targets, double dloss, std::int64_t maps,
                        std::int64_t HW, double smooth) {
  const std::int64_t n = maps * HW;
  if (n <= 0) return;
  dice_backward_kernel<<<grid_stride_blocks(n), kElementThreads, 0, stream()>>>(
      dprobs, stats, targets, dloss / static_cast<double>(maps), smooth, HW, n);
  CXR_CUDA_LAUNCH_CHECK();
}

#define CXR_INSTANTIATE(T)                                                                               \
  template double bce_with_logits_forward<T>(const T*, const T*, std::int64_t);                          \
  template void bce_with_logits_backward<T>(T*, const T*, const T*, double, std::int64_t);               \
  template double soft_dice_forward<T>(double*, const T*, const T*, std::int64_t, std::int64_t, double); \
  template void soft_dice_backward<T>(T*, const double*, const T*, double, std::int64_t, std::int64_t, double);
CXR_INSTANTIATE(float)
CXR_INSTANTIATE(double)
#undef CXR_INSTANTIATE

}  // namespace cxr::cuda
