#include "kernels/cpu/soft_target_loss.h"

#include "base/parallel.h"
#include "kernels/cpu/softmax.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace cxr::cpu {

namespace {

constexpr std::int64_t kRowBlock = 1024;  // rows per partial sum: a fixed order for any thread count

}  // namespace

template <class T>
double soft_target_cross_entropy_forward(T* logp, const T* logits, const T* targets, std::int64_t N, std::int64_t C) {
  if (N <= 0 || C <= 0) return 0.0;
  log_softmax_forward(logp, logits, N, C);
  const std::int64_t blocks = (N + kRowBlock - 1) / kRowBlock;
  std::vector<double> partial(static_cast<std::size_t>(blocks), 0.0);
  parallel_for(0, blocks, 1, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b) {
      double s = 0;
      const std::int64_t end = std::min(N * C, (b + 1) * kRowBlock * C);
      for (std::int64_t k = b * kRowBlock * C; k < end; ++k)
        s -= static_cast<double>(targets[k]) * static_cast<double>(logp[k]);
      partial[b] = s;
    }
  });
  double total = 0;
  for (double s : partial) total += s;
  return total / static_cast<double>(N);
}

template <class T>
void soft_target_cross_entropy_backward(T* dlogits, const T* logp, const T* targets, double dloss, std::int64_t N,
                                        std::int64_t C) {
  const double scale = dloss / static_cast<double>(N);
  parallel_for(0, N, kRowBlock, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t i = r0; i < r1; ++i) {
      double mass = 0;
      for (std::int64_t j = 0; j < C; ++j) mass += static_cast<double>(targets[i * C + j]);
      for (std::int64_t j = 0; j < C; ++j) {
        const std::int64_t k = i * C + j;
        dlogits[k] =
            static_cast<T>(scale * (std::exp(static_cast<double>(logp[k])) * mass - static_cast<double>(targets[k])));
      }
    }
  });
}

#define CXR_INSTANTIATE(T)                                                                                  \
  template double soft_target_cross_entropy_forward<T>(T*, const T*, const T*, std::int64_t, std::int64_t); \
  template void soft_target_cross_entropy_backward<T>(T*, const T*, const T*, double, std::int64_t, std::int64_t);
CXR_INSTANTIATE(float)
CXR_INSTANTIATE(double)
#undef CXR_INSTANTIATE

}  // namespace cxr::cpu
