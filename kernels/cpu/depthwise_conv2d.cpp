// Depthwise 3x3 convolution: direct loops per plane (see depthwise_conv2d.h).
//
// Each plane is first copied into a zero-padded buffer (p zeros on every side), so
// the loops over output pixels read all nine taps without bounds checks and
// vectorise along the row; the copy stays in L1/L2 and is cheap next to the taps.
#include "kernels/cpu/depthwise_conv2d.h"

#include "kernels/cpu/conv2d_tasks.h"

#include "base/parallel.h"

#include <algorithm>
#include <vector>

namespace cxr::cpu {

namespace {

using i64 = std::int64_t;

// Calls fn.template operator()<S>() with the stride as a constant for 1 and 2 (so
// the strided loads vectorise) and S = 0, "use the runtime stride", otherwise.
template <class Fn>
void with_stride(i64 stride, Fn&& fn) {
  if (stride == 1)
    fn.template operator()<1>();
  else if (stride == 2)
    fn.template operator()<2>();
  else
    fn.template operator()<0>();
}

// dst [(h + 2 pad) x (w + 2 pad)] = src [h x w] with a ring of `pad` zeros.
template <class T>
void pad_plane(T* dst, const T* src, i64 h, i64 w, i64 pad) {
  const i64 pw = w + 2 * pad;
  std::fill(dst, dst + pad * pw, T(0));
  for (i64 r = 0; r < h; ++r) {
    T* d = dst + (r + pad) * pw;
    std::fill(d, d + pad, T(0));
    std::copy(src + r * w, src + r * w + w, d + pad);
    std::fill(d + pad + w, d + pw, T(0));
  }
  std::fill(dst + (h + pad) * pw, dst + (h + 2 * pad) * pw, T(0));
}

// out [out_h x out_w] = b + sum_{kh, kw} w[3 kh + kw] * in[oh*s + kh, ow*s + kw], with
// `in` a padded plane of row stride in_w; then max(out, 0) when relu.
template <class T, int S>
void filter_plane(T* out, i64 out_h, i64 out_w, const T* in, i64 in_w, i64 stride, const T* w, T b, bool relu) {
  const i64 s = S > 0 ? S : stride;
  for (i64 oh = 0; oh < out_h; ++oh) {
    const T* r0 = in + oh * s * in_w;
    const T* r1 = r0 + in_w;
    const T* r2 = r1 + in_w;
    T* o = out + oh * out_w;
#pragma omp simd
    for (i64 ow = 0; ow < out_w; ++ow) {
      const i64 c = ow * s;
      const T v = b + w[0] * r0[c] + w[1] * r0[c + 1] + w[2] * r0[c + 2] + w[3] * r1[c] + w[4] * r1[c + 1] +
                  w[5] * r1[c + 2] + w[6] * r2[c] + w[7] * r2[c + 1] + w[8] * r2[c + 2];
      o[ow] = relu && !(v > T(0)) ? T(0) : v;
    }
  }
}

// acc[k][ow] += sum over rows oh of dout[oh, ow] * in[oh*s + kh, ow*s + kw] for the nine
// taps k = 3 kh + kw (in padded, row stride in_w): per-column accumulators [9 x out_w],
// so the row loop is plain vector FMAs with no per-row horizontal sums.
template <class T, int S>
void accumulate_weight_grad(T* acc, const T* dout, i64 out_h, i64 out_w, const T* in, i64 in_w, i64 stride) {
  const i64 s = S > 0 ? S : stride;
  T* a0 = acc;
  T* a1 = a0 + out_w;
  T* a2 = a1 + out_w;
  T* a3 = a2 + out_w;
  T* a4 = a3 + out_w;
  T* a5 = a4 + out_w;
  T* a6 = a5 + out_w;
  T* a7 = a6 + out_w;
  T* a8 = a7 + out_w;
  for (i64 oh = 0; oh < out_h; ++oh) {
    const T* d = dout + oh * out_w;
    const T* r0 = in + oh * s * in_w;
    const T* r1 = r0 + in_w;
    const T* r2 = r1 + in_w;
#pragma omp simd
    for (i64 ow = 0; ow < out_w; ++ow) {
      const i64 c = ow * s;
      const T g = d[ow];
      a0[ow] += g * r0[c];
      a1[ow] += g * r0[c + 1];
      a2[ow] += g * r0[c + 2];
      a3[ow] += g * r1[c];
      a4[ow] += g * r1[c + 1];
      a5[ow] += g * r1[c + 2];
      a6[ow] += g * r2[c];
      a7[ow] += g * r2[c + 1];
      a8[ow] += g * r2[c + 2];
    }
  }
}

// Input gradient at stride 2: input column iw is read by tap kw of output column
// ow when iw + p - kw = 2 ow. Split the columns by the parity of q = iw + p: even
// q = 2j gets taps 0 (ow = j) and 2 (ow = j - 1), odd q = 2j + 1 gets tap 1 (ow = j);
// rows likewise pair ih with the kh of matching parity. `work` holds 3 (W_out + 2) values.
template <class T>
void input_grad_stride2(T* dx, const T* dy, const T* w, const Conv2dShape& s, T* work) {
  const i64 p = s.padding, wo = s.W_out;
  T* padded = work;        // padded[j + 1] = dy[oh, j], zero at j = -1 and j = W_out
  T* row = work + wo + 2;  // row[q] = dx[ih, q - p], q < 2 (W_out + 1)
  padded[0] = padded[wo + 1] = T(0);
  for (i64 ih = 0; ih < s.H; ++ih) {
    std::fill(row, row + 2 * (wo + 1), T(0));
    for (i64 kh = 0; kh < 3; ++kh) {
      const i64 t = ih + p - kh;  // = 2 oh
      if (t < 0 || t % 2 != 0 || t / 2 >= s.H_out) continue;
      std::copy(dy + t / 2 * wo, dy + t / 2 * wo + wo, padded + 1);
      const T w0 = w[kh * 3], w1 = w[kh * 3 + 1], w2 = w[kh * 3 + 2];
#pragma omp simd
      for (i64 j = 0; j <= wo; ++j) {
        row[2 * j] += w0 * padded[j + 1] + w2 * padded[j];
        row[2 * j + 1] += w1 * padded[j + 1];
      }
    }
    std::copy(row + p, row + p + s.W, dx + ih * s.W);
  }
}

// Input gradient for any stride and padding: every tap scatters w * dy[oh, ow] onto
// a padded dx plane (`work`, (H + 2p) x (W + 2p)), whose interior is the result.
template <class T>
void input_grad_scatter(T* dx, const T* dy, const T* w, const Conv2dShape& s, T* work) {
  const i64 p = s.padding, pw = s.W + 2 * p, st = s.stride;
  std::fill(work, work + (s.H + 2 * p) * pw, T(0));
  for (i64 oh = 0; oh < s.H_out; ++oh)
    for (i64 kh = 0; kh < 3; ++kh) {
      T* drow = work + (oh * st + kh) * pw;
      for (i64 kw = 0; kw < 3; ++kw) {
        const T wk = w[kh * 3 + kw];
        for (i64 ow = 0; ow < s.W_out; ++ow) drow[ow * st + kw] += wk * dy[oh * s.W_out + ow];
      }
    }
  for (i64 ih = 0; ih < s.H; ++ih) {
    const T* interior = work + (ih + p) * pw + p;
    std::copy(interior, interior + s.W, dx + ih * s.W);
  }
}

}  // namespace

template <class T>
void depthwise_conv2d_forward(T* y, const T* x, const T* weight, const T* bias, const Conv2dShape& s, bool relu) {
  const i64 p = s.padding, pw = s.W + 2 * p;
  with_stride(s.stride, [&]<int S>() {
    parallel_for(0, s.N * s.C_in, 1, [&](i64 q0, i64 q1) {
      std::vector<T> padded(static_cast<std::size_t>((s.H + 2 * p) * pw));
      for (i64 q = q0; q < q1; ++q) {  // plane q = (n, c)
        const i64 c = q % s.C_in;
        pad_plane(padded.data(), x + q * s.H * s.W, s.H, s.W, p);
        filter_plane<T, S>(y + q * s.H_out * s.W_out, s.H_out, s.W_out, padded.data(), pw, s.stride, weight + c * 9,
                           bias ? bias[c] : T(0), relu);
      }
    });
  });
}

template <class T>
void depthwise_conv2d_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight,
                               const Conv2dShape& s) {
  if (dbias) conv2d_bias_backward(dbias, dy, s);
  if (!dx && !dweight) return;
  const i64 p = s.padding, pw = s.W + 2 * p;
  // Stride 1: dx is the forward filter run on dy padded by 2 - p, with the kernel flipped.
  const bool dx_by_filter = s.stride == 1 && p <= 2;
  const i64 fp = 2 - p, fw = s.W_out + 2 * fp;
  with_stride(s.stride, [&]<int S>() {
    parallel_for(0, s.C_in, 1, [&](i64 c0, i64 c1) {
      std::vector<T> x_padded(static_cast<std::size_t>(dweight ? (s.H + 2 * p) * pw : 0));
      std::vector<T> acc(static_cast<std::size_t>(dweight ? 9 * s.W_out : 0));
      std::vector<T> work(static_cast<std::size_t>(!dx            ? 0
                                                   : dx_by_filter ? (s.H_out + 2 * fp) * fw
                                                   : S == 2       ? 3 * (s.W_out + 2)
                                                                  : (s.H + 2 * p) * pw));
      for (i64 c = c0; c < c1; ++c) {
        const T* w = weight ? weight + c * 9 : nullptr;
        T flipped[9] = {};
        if (dx)
          for (int k = 0; k < 9; ++k) flipped[k] = w[8 - k];
        double dw[9] = {};
        for (i64 n = 0; n < s.N; ++n) {
          const i64 q = n * s.C_in + c;
          const T* dyq = dy + q * s.H_out * s.W_out;
          if (dx) {
            T* dxq = dx + q * s.H * s.W;
            if (dx_by_filter) {
              pad_plane(work.data(), dyq, s.H_out, s.W_out, fp);
              filter_plane<T, 1>(dxq, s.H, s.W, work.data(), fw, 1, flipped, T(0), false);
            } else if constexpr (S == 2) {
              input_grad_stride2(dxq, dyq, w, s, work.data());
            } else {
              input_grad_scatter(dxq, dyq, w, s, work.data());
            }
          }
          if (dweight) {  // summed per plane in float, across planes in double
            pad_plane(x_padded.data(), x + q * s.H * s.W, s.H, s.W, p);
            std::fill(acc.begin(), acc.end(), T(0));
            accumulate_weight_grad<T, S>(acc.data(), dyq, s.H_out, s.W_out, x_padded.data(), pw, s.stride);
            for (int k = 0; k < 9; ++k)
              for (i64 ow = 0; ow < s.W_out; ++ow) dw[k] += acc[k * s.W_out + ow];
          }
        }
        if (dweight)
          for (int k = 0; k < 9; ++k) dweight[c * 9 + k] = static_cast<T>(dw[k]);
      }
    });
  });
}

#define CXR_INSTANTIATE(T)                                                                               \
  template void depthwise_conv2d_forward<T>(T*, const T*, const T*, const T*, const Conv2dShape&, bool); \
  template void depthwise_conv2d_backward<T>(T*, T*, T*, const T*, const T*, const T*, const Conv2dShape&);
CXR_INSTANTIATE(float)
CXR_INSTANTIATE(double)
#undef CXR_INSTANTIATE

}  // namespace cxr::cpu
