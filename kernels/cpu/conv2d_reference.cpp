// The textbook convolution: seven nested loops, double accumulation, no tricks.
// Slow on purpose; the tests compare every fast path against it.
#include "kernels/cpu/conv2d.h"

#include <vector>

namespace cxr::cpu {

template <class T>
void conv2d_forward_reference(T* y, const T* x, const T* weight, const T* bias, const Conv2dShape& s) {
  const std::int64_t cin_g = s.C_in / s.groups, cout_g = s.C_out / s.groups;
  for (std::int64_t n = 0; n < s.N; ++n)
    for (std::int64_t co = 0; co < s.C_out; ++co) {
      const std::int64_t g = co / cout_g;
      for (std::int64_t oh = 0; oh < s.H_out; ++oh)
        for (std::int64_t ow = 0; ow < s.W_out; ++ow) {
          double acc = bias ? bias[co] : 0.0;
          for (std::int64_t cl = 0; cl < cin_g; ++cl)
            for (std::int64_t kh = 0; kh < s.K; ++kh)
              for (std::int64_t kw = 0; kw < s.K; ++kw) {
                const std::int64_t ih = oh * s.stride - s.padding + kh;
                const std::int64_t iw = ow * s.stride - s.padding + kw;
                if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
                const std::int64_t ci = g * cin_g + cl;
                acc += static_cast<double>(weight[((co * cin_g + cl) * s.K + kh) * s.K + kw]) *
                       x[((n * s.C_in + ci) * s.H + ih) * s.W + iw];
              }
          y[((n * s.C_out + co) * s.H_out + oh) * s.W_out + ow] = static_cast<T>(acc);
        }
    }
}

template <class T>
void conv2d_backward_reference(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight,
                               const Conv2dShape& s) {
  const std::int64_t cin_g = s.C_in / s.groups, cout_g = s.C_out / s.groups;
  std::vector<double> gx(static_cast<std::size_t>(s.N * s.C_in * s.H * s.W), 0.0);
  std::vector<double> gw(static_cast<std::size_t>(s.C_out * cin_g * s.K * s.K), 0.0);
  std::vector<double> gb(static_cast<std::size_t>(s.C_out), 0.0);
  for (std::int64_t n = 0; n < s.N; ++n)
    for (std::int64_t co = 0; co < s.C_out; ++co) {
      const std::int64_t g = co / cout_g;
      for (std::int64_t oh = 0; oh < s.H_out; ++oh)
        for (std::int64_t ow = 0; ow < s.W_out; ++ow) {
          const double d = dy[((n * s.C_out + co) * s.H_out + oh) * s.W_out + ow];
          gb[co] += d;
          for (std::int64_t cl = 0; cl < cin_g; ++cl)
            for (std::int64_t kh = 0; kh < s.K; ++kh)
              for (std::int64_t kw = 0; kw < s.K; ++kw) {
                const std::int64_t ih = oh * s.stride - s.padding + kh;
                const std::int64_t iw = ow * s.stride - s.padding + kw;
                if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
                const std::int64_t xi = ((n * s.C_in + g * cin_g + cl) * s.H + ih) * s.W + iw;
                const std::int64_t wi = ((co * cin_g + cl) * s.K + kh) * s.K + kw;
                if (dx) gx[xi] += static_cast<double>(weight[wi]) * d;
                if (dweight) gw[wi] += static_cast<double>(x[xi]) * d;
              }
        }
    }
  if (dx)
    for (std::size_t i = 0; i < gx.size(); ++i) dx[i] = static_cast<T>(gx[i]);
  if (dweight)
    for (std::size_t i = 0; i < gw.size(); ++i) dweight[i] = static_cast<T>(gw[i]);
  if (dbias)
    for (std::size_t i = 0; i < gb.size(); ++i) dbias[i] = static_cast<T>(gb[i]);
}

#define CXR_INSTANTIATE(T)                                                                         \
  template void conv2d_forward_reference<T>(T*, const T*, const T*, const T*, const Conv2dShape&); \
  template void conv2d_backward_reference<T>(T*, T*, T*, const T*, const T*, const T*, const Conv2dShape&);
CXR_INSTANTIATE(float)
CXR_INSTANTIATE(double)
#undef CXR_INSTANTIATE

}  // namespace cxr::cpu
