#include "kernels/cpu/segmentation_loss.h"

#include "base/parallel.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace cxr::cpu {

namespace {

constexpr std::int64_t kBlock = 1 << 14;  // elements per partial sum: a fixed order for any thread count

double bce_term(double x, double t) {
  return std::max(x, 0.0) - x * t + std::log1p(std::exp(-std::abs(x)));
}

double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

}  // namespace

template <class T>
double bce_with_logits_forward(const T* logits, const T* targets, std::int64_t n) {
  const std::int64_t blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(static_cast<std::size_t>(blocks), 0.0);
  parallel_for(0, blocks, 1, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) {
      double s = 0;
      const std::int64_t end = std::min(n, (b + 1) * kBlock);
      for (std::int64_t i = b * kBlock; i < end; ++i) s += bce_term(logits[i], targets[i]);
      partial[b] = s;
    }
  });
  double total = 0;
  for (double s : partial) total += s;
  return total / static_cast<double>(n);
}

template <class T>
void bce_with_logits_backward(T* dlogits, const T* logits, const T* targets, double dloss, std::int64_t n) {
  const double scale = dloss / static_cast<double>(n);
  parallel_for(0, n, kBlock, [&](std::int64_t i0, std::int64_t i1) {
    for (std::int64_t i = i0; i < i1; ++i)
      dlogits[i] = static_cast<T>(scale * (sigmoid(logits[i]) - static_cast<double>(targets[i])));
  });
}

template <class T>
double soft_dice_forward(double* stats, const T* probs, const T* targets, std::int64_t maps, std::int64_t HW,
                         double smooth) {
  parallel_for(0, maps, 1, [&](std::int64_t m0, std::int64_t m1) {
    for (std::int64_t m = m0; m < m1; ++m) {
      const T* p = probs + m * HW;
      const T* t = targets + m * HW;
      double inter = 0, psum = 0, tsum = 0;
      for (std::int64_t i = 0; i < HW; ++i) {
        inter += static_cast<double>(p[i]) * static_cast<double>(t[i]);
        psum += static_cast<double>(p[i]);
        tsum += static_cast<double>(t[i]);
      }
      stats[3 * m] = inter;
      stats[3 * m + 1] = psum;
      stats[3 * m + 2] = tsum;
    }
  });
  double loss = 0;
  for (std::int64_t m = 0; m < maps; ++m)
    loss += 1.0 - (2 * stats[3 * m] + smooth) / (stats[3 * m + 1] + stats[3 * m + 2] + smooth);
  return loss / static_cast<double>(maps);
}

template <class T>
void soft_dice_backward(T* dprobs, const double* stats, const T* targets, double dloss, std::int64_t maps,
                        std::int64_t HW, double smooth) {
  const double per_map = dloss / static_cast<double>(maps);
  parallel_for(0, maps, 1, [&](std::int64_t m0, std::int64_t m1) {
    for (std::int64_t m = m0; m < m1; ++m) {
      const double numerator = 2 * stats[3 * m] + smooth;
      const double denominator = stats[3 * m + 1] + stats[3 * m + 2] + smooth;
      const double scale = -per_map / (denominator * denominator);
      for (std::int64_t i = m * HW; i < (m + 1) * HW; ++i)
        dprobs[i] = static_cast<T>(scale * (2 * static_cast<double>(targets[i]) * denominator - numerator));
    }
  });
}

#define CXR_INSTANTIATE(T)                                                                               \
  template double bce_with_logits_forward<T>(const T*, const T*, std::int64_t);                          \
  template void bce_with_logits_backward<T>(T*, const T*, const T*, double, std::int64_t);               \
  template double soft_dice_forward<T>(double*, const T*, const T*, std::int64_t, std::int64_t, double); \
  template void soft_dice_backward<T>(T*, const double*, const T*, double, std::int64_t, std::int64_t, double);
CXR_INSTANTIATE(float)
CXR_INSTANTIATE(double)
#undef CXR_INSTANTIATE

}  // namespace cxr::cpu
