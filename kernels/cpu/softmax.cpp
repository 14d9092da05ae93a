#include "kernels/cpu/softmax.h"

#include "base/parallel.h"

#include <cmath>
#include <limits>

namespace cxr::cpu {

namespace {

constexpr std::int64_t kGrain = 1 << 14;  // elements per task

std::int64_t rows_per_task(std::int64_t C) {
  return (kGrain + C - 1) / C;
}

template <class T>
T row_max(const T* x, std::int64_t C) {
  T m = x[0];
  for (std::int64_t j = 1; j < C; ++j) m = x[j] > m ? x[j] : m;
  return m;
}

// sum_i w[y_i], in row order.
template <class T>
double total_weight(const int* labels, const T* weights, std::int64_t N) {
  if (!weights) return static_cast<double>(N);
  double total = 0;
  for (std::int64_t i = 0; i < N; ++i) total += static_cast<double>(weights[labels[i]]);
  return total;
}

bool admissible(std::uint32_t mask, std::int64_t c) {
  return (mask >> c) & 1u;
}

// log P = log sum_{c in S} exp(logp_c) with the largest term taken out, so the sum is
// at least 1 however small P is. One class: max + log(1) = logp_c exactly.
template <class T>
T masked_log_sum_exp(const T* logp, std::uint32_t mask, std::int64_t C) {
  T max = -std::numeric_limits<T>::infinity();
  for (std::int64_t c = 0; c < C; ++c)
    if (admissible(mask, c)) max = logp[c] > max ? logp[c] : max;
  T sum = 0;
  for (std::int64_t c = 0; c < C; ++c)
    if (admissible(mask, c)) sum += std::exp(logp[c] - max);
  return max + std::log(sum);
}

// w_i = mean of w[c] over the set (1 without weights); one class: w[c] exactly.
template <class T>
double set_weight(const T* weights, std::uint32_t mask, std::int64_t C) {
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

// sum_i w_i, in row order.
template <class T>
double total_set_weight(const std::uint32_t* masks, const T* weights, std::int64_t N, std::int64_t C) {
  if (!weights) return static_cast<double>(N);
  double total = 0;
  for (std::int64_t i = 0; i < N; ++i) total += set_weight(weights, masks[i], C);
  return total;
}

}  // namespace

template <class T>
void softmax_forward(T* out, const T* x, std::int64_t N, std::int64_t C) {
  parallel_for(0, N, rows_per_task(C), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * C;
      T* yr = out + r * C;
      const T max = row_max(xr, C);
      T sum = 0;
      for (std::int64_t j = 0; j < C; ++j) {
        yr[j] = std::exp(xr[j] - max);
        sum += yr[j];
      }
      const T inv_sum = T(1) / sum;
      for (std::int64_t j = 0; j < C; ++j) yr[j] *= inv_sum;
    }
  });
}

template <class T>
void softmax_backward(T* dx, const T* out, const T* dout, std::int64_t N, std::int64_t C) {
  parallel_for(0, N, rows_per_task(C), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* y = out + r * C;
      const T* dy = dout + r * C;
      T dot = 0;
      for (std::int64_t j = 0; j < C; ++j) dot += dy[j] * y[j];
      for (std::int64_t j = 0; j < C; ++j) dx[r * C + j] = y[j] * (dy[j] - dot);
    }
  });
}

template <class T>
void log_softmax_forward(T* out, const T* x, std::int64_t N, std::int64_t C) {
  parallel_for(0, N, rows_per_task(C), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * C;
      const T max = row_max(xr, C);
      T sum = 0;
      for (std::int64_t j = 0; j < C; ++j) sum += std::exp(xr[j] - max);
      const T log_sum = std::log(sum);
      for (std::int64_t j = 0; j < C; ++j) out[r * C + j] = xr[j] - max - log_sum;
    }
  });
}

template <class T>
void log_softmax_backward(T* dx, const T* out, const T* dout, std::int64_t N, std::int64_t C) {
  parallel_for(0, N, rows_per_task(C), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* y = out + r * C;
      const T* dy = dout + r * C;
      T sum = 0;
      for (std::int64_t j = 0; j < C; ++j) sum += dy[j];
      for (std::int64_t j = 0; j < C; ++j) dx[r * C + j] = dy[j] - std::exp(y[j]) * sum;
    }
  });
}

template <class T>
double cross_entropy_forward(T* logp, const T* logits, const int* labels, const T* weights, std::int64_t N,
                             std::int64_t C) {
  log_softmax_forward(logp, logits, N, C);
  double weighted_nll = 0;
  for (std::int64_t i = 0; i < N; ++i) {
    const double w = weights ? static_cast<double>(weights[labels[i]]) : 1.0;
    weighted_nll -= w * static_cast<double>(logp[i * C + labels[i]]);
  }
  return weighted_nll / total_weight(labels, weights, N);
}

template <class T>
void cross_entropy_backward(T* dlogits, const T* logp, const int* labels, const T* weights, double dloss,
                            std::int64_t N, std::int64_t C) {
  const double scale = dloss / total_weight(labels, weights, N);
  parallel_for(0, N, rows_per_task(C), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t i = r0; i < r1; ++i) {
      const double w = weights ? static_cast<double>(weights[labels[i]]) : 1.0;
      const T coef = static_cast<T>(scale * w);
      for (std::int64_t j = 0; j < C; ++j) dlogits[i * C + j] = coef * std::exp(logp[i * C + j]);
      dlogits[i * C + labels[i]] -= coef;
    }
  });
}

template <class T>
double label_set_cross_entropy_forward(T* logp, const T* logits, const std::uint32_t* masks, const T* weights,
                                       std::int64_t N, std::int64_t C) {
  log_softmax_forward(logp, logits, N, C);
  double weighted_nll = 0;
  for (std::int64_t i = 0; i < N; ++i) {
    const double w = set_weight(weights, masks[i], C);
    weighted_nll -= w * static_cast<double>(masked_log_sum_exp(logp + i * C, masks[i], C));
  }
  return weighted_nll / total_set_weight(masks, weights, N, C);
}

template <class T>
void label_set_cross_entropy_backward(T* dlogits, const T* logp, const std::uint32_t* masks, const T* weights,
                                      double dloss, std::int64_t N, std::int64_t C) {
  const double scale = dloss / total_set_weight(masks, weights, N, C);
  parallel_for(0, N, rows_per_task(C), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t i = r0; i < r1; ++i) {
      const T* lp = logp + i * C;
      const T coef = static_cast<T>(scale * set_weight(weights, masks[i], C));
      const T log_p_set = masked_log_sum_exp(lp, masks[i], C);
      for (std::int64_t j = 0; j < C; ++j) {
        const T g = coef * std::exp(lp[j]);
        // exp(lp - log P) is the restricted softmax q_ij <= 1: P is never divided by.
        dlogits[i * C + j] = admissible(masks[i], j) ? g - coef * std::exp(lp[j] - log_p_set) : g;
      }
    }
  });
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

}  // namespace cxr::cpu
