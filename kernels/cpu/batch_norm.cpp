#include "kernels/cpu/batch_norm.h"

#include "base/parallel.h"

#include <algorithm>
#include <cmath>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

namespace cxr::cpu {

namespace {

constexpr std::int64_t kGrain = 1 << 15;  // elements per task: ~128 KiB of float32

// Channels (or maps) of `per_item` elements each that make one task worth a thread.
std::int64_t grain_for(std::int64_t per_item) {
  return (kGrain + per_item - 1) / per_item;
}

// ---- reductions over one map of n contiguous values, accumulated in double ----

// sum(x - shift) and sum((x - shift)^2): the shifted-data algorithm (Chan, Golub &
// LeVeque 1983). var = sum2/M - (sum1/M)^2 cancels about log2(1 + (mean - shift)^2/var)
// bits; with the shift one of the channel's values, (shift - mean)^2 <= M * var, so
// at most log2(M + 1) of double's 53 bits are lost, whatever the mean.
template <class T>
void map_shifted_sums(const T* x, std::int64_t n, double shift, double* sum1, double* sum2) {
  double a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
  for (std::int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - shift;
    a += d;
    b += d * d;
  }
  *sum1 += a;
  *sum2 += b;
}

// sum(g) and sum(g * (x - mean)) with g = dy, or g = dy where relu_out > 0 when
// relu_out is given; the product is formed in T, summed in double.
template <class T>
void map_gradient_sums(const T* dy, const T* x, const T* relu_out, std::int64_t n, T mean, double* sum_dy,
                       double* sum_dy_xc) {
  double a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
  for (std::int64_t i = 0; i < n; ++i) {
    const T g = relu_out && !(relu_out[i] > T(0)) ? T(0) : dy[i];
    a += static_cast<double>(g);
    b += static_cast<double>(g * (x[i] - mean));
  }
  *sum_dy += a;
  *sum_dy_xc += b;
}

#if defined(__AVX2__) && defined(__FMA__)
// float32 versions: 8 floats widen to two 4-lane double vectors, with several
// independent accumulators so the adds are not serialised on their latency.

inline double horizontal_sum(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
inline __m256d low_half(__m256 v) {
  return _mm256_cvtps_pd(_mm256_castps256_ps128(v));
}
inline __m256d high_half(__m256 v) {
  return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
}

template <>
void map_shifted_sums<float>(const float* x, std::int64_t n, double shift, double* sum1, double* sum2) {
  const __m256d m = _mm256_set1_pd(shift);
  __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
  std::int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
    const __m256d d0 = _mm256_sub_pd(low_half(v0), m), d1 = _mm256_sub_pd(high_half(v0), m);
    const __m256d d2 = _mm256_sub_pd(low_half(v1), m), d3 = _mm256_sub_pd(high_half(v1), m);
    a0 = _mm256_add_pd(a0, d0);
    a1 = _mm256_add_pd(a1, d1);
    a2 = _mm256_add_pd(a2, d2);
    a3 = _mm256_add_pd(a3, d3);
    b0 = _mm256_fmadd_pd(d0, d0, b0);
    b1 = _mm256_fmadd_pd(d1, d1, b1);
    b2 = _mm256_fmadd_pd(d2, d2, b2);
    b3 = _mm256_fmadd_pd(d3, d3, b3);
  }
  double a = horizontal_sum(_mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3)));
  double b = horizontal_sum(_mm256_add_pd(_mm256_add_pd(b0, b1), _mm256_add_pd(b2, b3)));
  for (; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - shift;
    a += d;
    b += d * d;
  }
  *sum1 += a;
  *sum2 += b;
}

template <>
void map_gradient_sums<float>(const float* dy, const float* x, const float* relu_out, std::int64_t n, float mean,
                              double* sum_dy, double* sum_dy_xc) {
  const __m256 m = _mm256_set1_ps(mean);
  const __m256 zero = _mm256_setzero_ps();
  __m256d a0 = _mm256_setzero_pd(), a1 = a0, b0 = a0, b1 = a0;
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 g = _mm256_loadu_ps(dy + i);
    if (relu_out) g = _mm256_and_ps(g, _mm256_cmp_ps(_mm256_loadu_ps(relu_out + i), zero, _CMP_GT_OQ));
    const __m256 g_xc = _mm256_mul_ps(g, _mm256_sub_ps(_mm256_loadu_ps(x + i), m));
    a0 = _mm256_add_pd(a0, low_half(g));
    a1 = _mm256_add_pd(a1, high_half(g));
    b0 = _mm256_add_pd(b0, low_half(g_xc));
    b1 = _mm256_add_pd(b1, high_half(g_xc));
  }
  double a = horizontal_sum(_mm256_add_pd(a0, a1)), b = horizontal_sum(_mm256_add_pd(b0, b1));
  for (; i < n; ++i) {
    const float g = relu_out && !(relu_out[i] > 0.0f) ? 0.0f : dy[i];
    a += static_cast<double>(g);
    b += static_cast<double>(g * (x[i] - mean));
  }
  *sum_dy += a;
  *sum_dy_xc += b;
}
#endif

// out = (x - mean) * scale + beta over one map, then max(out, 0) when relu.
template <class T>
void map_normalise(T* out, const T* x, std::int64_t n, T mean, T scale, T beta, bool relu) {
  if (relu) {
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i) out[i] = std::max((x[i] - mean) * scale + beta, T(0));
  } else {
#pragma omp simd
    for (std::int64_t i = 0; i < n; ++i) out[i] = (x[i] - mean) * scale + beta;
  }
}

}  // namespace

template <class T>
void batch_norm_forward_train(T* out, T* save_mean, T* save_invstd, T* running_mean, T* running_var, const T* x,
                              const T* gamma, const T* beta, std::int64_t N, std::int64_t C, std::int64_t HW,
                              double momentum, double eps, bool relu) {
  const std::int64_t M = N * HW;
  // One channel at a time: its values are still in cache for the normalisation.
  parallel_for(0, C, grain_for(M), [&](std::int64_t c0, std::int64_t c1) {
    for (std::int64_t c = c0; c < c1; ++c) {
      const double shift = static_cast<double>(x[c * HW]);  // the channel's first value
      double sum1 = 0, sum2 = 0;
      for (std::int64_t n = 0; n < N; ++n) map_shifted_sums(x + (n * C + c) * HW, HW, shift, &sum1, &sum2);
      const double shifted_mean = sum1 / static_cast<double>(M);
      const double mean = shift + shifted_mean;
      const double var = std::max(0.0, sum2 / static_cast<double>(M) - shifted_mean * shifted_mean);
      const double invstd = 1.0 / std::sqrt(var + eps);

      save_mean[c] = static_cast<T>(mean);
      save_invstd[c] = static_cast<T>(invstd);
      const double unbiased_var = var * static_cast<double>(M) / static_cast<double>(M - 1);
      running_mean[c] = static_cast<T>((1 - momentum) * running_mean[c] + momentum * mean);
      running_var[c] = static_cast<T>((1 - momentum) * running_var[c] + momentum * unbiased_var);

      const T scale = static_cast<T>(static_cast<double>(gamma[c]) * invstd);
      for (std::int64_t n = 0; n < N; ++n) {
        const std::int64_t at = (n * C + c) * HW;
        map_normalise(out + at, x + at, HW, static_cast<T>(mean), scale, beta[c], relu);
      }
    }
  });
}

template <class T>
void batch_norm_forward_eval(T* out, T* save_invstd, const T* x, const T* gamma, const T* beta, const T* running_mean,
                             const T* running_var, std::int64_t N, std::int64_t C, std::int64_t HW, double eps,
                             bool relu) {
  for (std::int64_t c = 0; c < C; ++c)
    save_invstd[c] = static_cast<T>(1.0 / std::sqrt(static_cast<double>(running_var[c]) + eps));
  parallel_for(0, N * C, grain_for(HW), [&](std::int64_t m0, std::int64_t m1) {
    for (std::int64_t m = m0; m < m1; ++m) {
      const std::int64_t c = m % C;
      const T scale = static_cast<T>(static_cast<double>(gamma[c]) * save_invstd[c]);
      map_normalise(out + m * HW, x + m * HW, HW, running_mean[c], scale, beta[c], relu);
    }
  });
}

template <class T>
void batch_norm_backward(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x, const T* mean, const T* invstd,
                         const T* gamma, std::int64_t N, std::int64_t C, std::int64_t HW, bool training,
                         const T* relu_out) {
  const double M = static_cast<double>(N * HW);
  parallel_for(0, C, grain_for(N * HW), [&](std::int64_t c0, std::int64_t c1) {
    for (std::int64_t c = c0; c < c1; ++c) {
      double sum_dy = 0, sum_dy_xc = 0;  // sum(dy), sum(dy * (x - mean))
      for (std::int64_t n = 0; n < N; ++n) {
        const std::int64_t at = (n * C + c) * HW;
        map_gradient_sums(dy + at, x + at, relu_out ? relu_out + at : nullptr, HW, mean[c], &sum_dy, &sum_dy_xc);
      }
      const double is = static_cast<double>(invstd[c]);
      dbeta[c] = static_cast<T>(sum_dy);
      dgamma[c] = static_cast<T>(sum_dy_xc * is);  // sum(dy * xhat)
      if (!dx) continue;

      // Expanding xhat = (x - mean) * invstd, the training formula becomes
      //   dx = k_dy * dy + k_xc * (x - mean) + k_0 with k_dy = gamma * invstd,
      //   k_xc = -k_dy * invstd^2 * sum(dy * (x - mean)) / M, k_0 = -k_dy * sum(dy) / M;
      // in evaluation only the first term remains.
      const double k_dy = static_cast<double>(gamma[c]) * is;
      const T k_dy_t = static_cast<T>(k_dy);
      const T k_xc = static_cast<T>(-k_dy * is * is * sum_dy_xc / M);
      const T k_0 = static_cast<T>(-k_dy * sum_dy / M);
      const T mean_c = mean[c];
      for (std::int64_t n = 0; n < N; ++n) {
        const std::int64_t at = (n * C + c) * HW;
        T* dx_map = dx + at;
        const T* dy_map = dy + at;
        const T* x_map = x + at;
        const T* r_map = relu_out ? relu_out + at : nullptr;
        if (training && r_map) {
#pragma omp simd
          for (std::int64_t i = 0; i < HW; ++i) {
            const T g = r_map[i] > T(0) ? dy_map[i] : T(0);
            dx_map[i] = k_dy_t * g + k_xc * (x_map[i] - mean_c) + k_0;
          }
        } else if (training) {
#pragma omp simd
          for (std::int64_t i = 0; i < HW; ++i) dx_map[i] = k_dy_t * dy_map[i] + k_xc * (x_map[i] - mean_c) + k_0;
        } else if (r_map) {
#pragma omp simd
          for (std::int64_t i = 0; i < HW; ++i) {
            const T g = r_map[i] > T(0) ? dy_map[i] : T(0);
            dx_map[i] = k_dy_t * g;
          }
        } else {
#pragma omp simd
          for (std::int64_t i = 0; i < HW; ++i) dx_map[i] = k_dy_t * dy_map[i];
        }
      }
    }
  });
}

#define CXR_INSTANTIATE(T)                                                                                         \
  template void batch_norm_forward_train<T>(T*, T*, T*, T*, T*, const T*, const T*, const T*, std::int64_t,        \
                                            std::int64_t, std::int64_t, double, double, bool);                     \
  template void batch_norm_forward_eval<T>(T*, T*, const T*, const T*, const T*, const T*, const T*, std::int64_t, \
                                           std::int64_t, std::int64_t, double, bool);                              \
  template void batch_norm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*, std::int64_t, \
                                       std::int64_t, std::int64_t, bool, const T*);
CXR_INSTANTIATE(float)
CXR_INSTANTIATE(double)
#undef CXR_INSTANTIATE

}  // namespace cxr::cpu
