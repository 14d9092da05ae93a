#include "kernels/cpu/softmax.h"

#include "engine/parallel.h"

#include <cmath>

namespace cxr::cpu {

namespace {

constexpr std::int64_t kGrain = 1 << 14;  // elements per task

std::int64_t rows_per_task(std::int64_t C) { return (kGrain + C - 1) / C; }

template <class T> T row_max(const T* x, std::int64_t C) {
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

}  // namespace

template <class T> void softmax_forward(T* out, const T* x, std::int64_t N, std::int64_t C) {
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

template <class T> void log_softmax_forward(T* out, const T* x, std::int64_t N, std::int64_t C) {
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
double cross_entropy_forward(T* logp, const T* logits, const int* labels, const T* weights,
                             std::int64_t N, std::int64_t C) {
  log_softmax_forward(logp, logits, N, C);
  double weighted_nll = 0;
  for (std::int64_t i = 0; i < N; ++i) {
    const double w = weights ? static_cast<double>(weights[labels[i]]) : 1.0;
    weighted_nll -= w * static_cast<double>(logp[i * C + labels[i]]);
  }
  return weighted_nll / total_weight(labels, weights, N);
}

template <class T>
void cross_entropy_backward(T* dlogits, const T* logp, const int* labels, const T* weights,
                            double dloss, std::int64_t N, std::int64_t C) {
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

#define CXR_INSTANTIATE(T)                                                                        \
  template void softmax_forward<T>(T*, const T*, std::int64_t, std::int64_t);                     \
  template void softmax_backward<T>(T*, const T*, const T*, std::int64_t, std::int64_t);          \
  template void log_softmax_forward<T>(T*, const T*, std::int64_t, std::int64_t);                 \
  template void log_softmax_backward<T>(T*, const T*, const T*, std::int64_t, std::int64_t);      \
  template double cross_entropy_forward<T>(T*, const T*, const int*, const T*, std::int64_t,      \
                                           std::int64_t);                                         \
  template void cross_entropy_backward<T>(T*, const T*, const int*, const T*, double,             \
                                          std::int64_t, std::int64_t);
CXR_INSTANTIATE(float)
CXR_INSTANTIATE(double)
#undef CXR_INSTANTIATE

}  // namespace cxr::cpu
