// conv2d: the dispatcher and the general im2col + GEMM path (any K, stride, padding, groups).
//
// Shape legend: N, C_in, H, W -> C_out, H_out, W_out; K kernel, G groups,
// Cg = C_in/G, Og = C_out/G, CKK = Cg*K*K, P = H_out*W_out.
//
// Forward, per image n and group g: the im2col matrix col [CKK, P] holds in row
// (cl, kh, kw) the input pixel each output pixel sees through tap (kh, kw) of
// channel cl (zero in the padding), so Y[n, g] [Og, P] = W_g [Og, CKK] col.
// Backward: dW_g += dY[n, g] col^T, and dcol = W_g^T dY[n, g] is scattered back
// onto the input pixels (col2im) to give dx.
#include "kernels/cpu/conv2d.h"

#include "kernels/cpu/conv2d_tasks.h"
#include "kernels/cpu/depthwise_conv2d.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/pointwise_conv2d.h"

namespace cxr::cpu {

using i64 = std::int64_t;

template <class T>
void conv2d_forward(T* y, const T* x, const T* weight, const T* bias, const Conv2dShape& s, bool relu) {
  if (is_pointwise(s)) {
    pointwise_conv2d_forward(y, x, weight, bias, s, relu);
  } else if (is_depthwise3x3(s)) {
    depthwise_conv2d_forward(y, x, weight, bias, s, relu);
  } else {
    conv2d_im2col_forward(y, x, weight, bias, s, relu);
  }
}

template <class T>
void conv2d_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight, const Conv2dShape& s) {
  if (is_pointwise(s)) {
    pointwise_conv2d_backward(dx, dweight, dbias, dy, x, weight, s);
  } else if (is_depthwise3x3(s)) {
    depthwise_conv2d_backward(dx, dweight, dbias, dy, x, weight, s);
  } else {
    conv2d_im2col_backward(dx, dweight, dbias, dy, x, weight, s);
  }
}

template <class T>
void conv2d_bias_backward(T* dbias, const T* dy, const Conv2dShape& s) {
  const i64 P = s.H_out * s.W_out;
  parallel_for(0, s.C_out, 1, [&](i64 c0, i64 c1) {
    for (i64 c = c0; c < c1; ++c) {
      double total = 0;
      for (i64 n = 0; n < s.N; ++n) {
        const T* plane = dy + (n * s.C_out + c) * P;
        double sum = 0;
#pragma omp simd reduction(+ : sum)
        for (i64 i = 0; i < P; ++i) sum += plane[i];
        total += sum;
      }
      dbias[c] = static_cast<T>(total);
    }
  });
}

namespace {

// col [CKK, c1 - c0] for output pixels [c0, c1) of one image and group; xg points at
// the group's first input channel.
template <class T>
void im2col(T* col, const T* xg, const Conv2dShape& s, i64 c0, i64 c1) {
  const i64 cin_g = s.C_in / s.groups, cols = c1 - c0;
  for (i64 cl = 0; cl < cin_g; ++cl)
    for (i64 kh = 0; kh < s.K; ++kh)
      for (i64 kw = 0; kw < s.K; ++kw) {
        const T* plane = xg + cl * s.H * s.W;
        T* row = col + ((cl * s.K + kh) * s.K + kw) * cols;
        i64 lo, hi;
        conv2d_valid_range(s.W_out, s.W, s.stride, s.padding, kw, &lo, &hi);
        for (i64 p = c0; p < c1;) {  // one output row (or the part of it in the chunk) at a time
          const i64 oh = p / s.W_out, ow0 = p % s.W_out, ow1 = std::min(s.W_out, ow0 + c1 - p);
          T* out = row + (p - c0);  // out[j] is output pixel (oh, ow0 + j)
          const i64 ih = oh * s.stride - s.padding + kh;
          if (ih < 0 || ih >= s.H) {
            std::fill(out, out + (ow1 - ow0), T(0));
          } else {
            const T* in = plane + ih * s.W;
            const i64 a = std::clamp(lo, ow0, ow1), b = std::clamp(hi, a, ow1);
            std::fill(out, out + (a - ow0), T(0));
#pragma omp simd
            for (i64 ow = a; ow < b; ++ow) out[ow - ow0] = in[ow * s.stride - s.padding + kw];
            std::fill(out + (b - ow0), out + (ow1 - ow0), T(0));
          }
          p += ow1 - ow0;
        }
      }
}

// dx_plane [H, W] = sum over taps of dcol [K*K, P] scattered back to the pixels they read.
template <class T>
void col2im_plane(T* dx_plane, const T* dcol, const Conv2dShape& s) {
  std::fill(dx_plane, dx_plane + s.H * s.W, T(0));
  for (i64 kh = 0; kh < s.K; ++kh)
    for (i64 kw = 0; kw < s.K; ++kw) {
      const T* row = dcol + (kh * s.K + kw) * s.H_out * s.W_out;
      i64 lo, hi;
      conv2d_valid_range(s.W_out, s.W, s.stride, s.padding, kw, &lo, &hi);
      for (i64 oh = 0; oh < s.H_out; ++oh) {
        const i64 ih = oh * s.stride - s.padding + kh;
        if (ih < 0 || ih >= s.H) continue;
        T* out = dx_plane + ih * s.W;
        const T* in = row + oh * s.W_out;
#pragma omp simd
        for (i64 ow = lo; ow < hi; ++ow) out[ow * s.stride - s.padding + kw] += in[ow];
      }
    }
}

// Output pixels per im2col chunk: the column buffer stays around 1 MiB of float32.
i64 max_chunk_cols(i64 ckk) {
  return std::max<i64>(16, (i64{1} << 18) / ckk);
}

}  // namespace

template <class T>
void conv2d_im2col_forward(T* y, const T* x, const T* weight, const T* bias, const Conv2dShape& s, bool relu) {
  const i64 cin_g = s.C_in / s.groups, cout_g = s.C_out / s.groups, ckk = cin_g * s.K * s.K;
  const i64 P = s.H_out * s.W_out;
  const ColumnTasks tasks = column_tasks(s.N, P, max_chunk_cols(ckk));
  parallel_for(0, tasks.count, 1, [&](i64 t0, i64 t1) {
    T* col = thread_scratch<T>(ckk * tasks.chunk_cols);
    for (i64 t = t0; t < t1; ++t) {
      const i64 n = tasks.image(t), c0 = tasks.begin(t), c1 = tasks.end(t);
      for (i64 g = 0; g < s.groups; ++g) {
        im2col(col, x + (n * s.C_in + g * cin_g) * s.H * s.W, s, c0, c1);
        T* yg = y + (n * s.C_out + g * cout_g) * P + c0;
        gemm<T>(false, false, cout_g, c1 - c0, ckk, T(1), weight + g * cout_g * ckk, ckk, col, c1 - c0, T(0), yg, P,
                GemmEpilogue<T>{bias ? bias + g * cout_g : nullptr, relu});
      }
    }
  });
}

template <class T>
void conv2d_im2col_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight,
                            const Conv2dShape& s) {
  const i64 cin_g = s.C_in / s.groups, cout_g = s.C_out / s.groups, kk = s.K * s.K, ckk = cin_g * kk;
  const i64 P = s.H_out * s.W_out;
  if (dbias) conv2d_bias_backward(dbias, dy, s);
  if (dweight) {
    // dW_g += dY[n, g][:, chunk] col^T, one partial per thread.
    const ColumnTasks tasks = column_tasks(s.N, P, max_chunk_cols(ckk));
    reduce_over_tasks(dweight, s.C_out * ckk, tasks.count, [&](T* partial, i64 t, bool first) {
      const i64 n = tasks.image(t), c0 = tasks.begin(t), c1 = tasks.end(t);
      T* col = thread_scratch<T>(ckk * tasks.chunk_cols);
      for (i64 g = 0; g < s.groups; ++g) {
        im2col(col, x + (n * s.C_in + g * cin_g) * s.H * s.W, s, c0, c1);
        gemm<T>(false, true, cout_g, ckk, c1 - c0, T(1), dy + (n * s.C_out + g * cout_g) * P + c0, P, col, c1 - c0,
                first ? T(0) : T(1), partial + g * cout_g * ckk, ckk);
      }
    });
  }
  if (dx) {
    // Tasks (image, block of input channels of one group): dcol [cb*K*K, P] =
    // W_g[:, block]^T dY[n, g], then col2im channel by channel. The block fills the
    // GEMM's row block (MC = 144) and leaves work for every thread.
    const i64 cb = std::clamp<i64>(144 / kk, 1, cin_g);
    const i64 blocks = (cin_g + cb - 1) / cb;
    parallel_for(0, s.N * s.groups * blocks, 1, [&](i64 t0, i64 t1) {
      T* dcol = thread_scratch<T>(cb * kk * P);
      for (i64 t = t0; t < t1; ++t) {
        const i64 n = t / (s.groups * blocks), g = t / blocks % s.groups, cl0 = t % blocks * cb;
        const i64 cl1 = std::min(cin_g, cl0 + cb);
        gemm<T>(true, false, (cl1 - cl0) * kk, P, cout_g, T(1), weight + g * cout_g * ckk + cl0 * kk, ckk,
                dy + (n * s.C_out + g * cout_g) * P, P, T(0), dcol, P);
        for (i64 cl = cl0; cl < cl1; ++cl)
          col2im_plane(dx + (n * s.C_in + g * cin_g + cl) * s.H * s.W, dcol + (cl - cl0) * kk * P, s);
      }
    });
  }
}

#define CXR_INSTANTIATE(T)                                                                               \
  template void conv2d_forward<T>(T*, const T*, const T*, const T*, const Conv2dShape&, bool);           \
  template void conv2d_backward<T>(T*, T*, T*, const T*, const T*, const T*, const Conv2dShape&);        \
  template void conv2d_im2col_forward<T>(T*, const T*, const T*, const T*, const Conv2dShape&, bool);    \
  template void conv2d_im2col_backward<T>(T*, T*, T*, const T*, const T*, const T*, const Conv2dShape&); \
  template void conv2d_bias_backward<T>(T*, const T*, const Conv2dShape&);
CXR_INSTANTIATE(float)
CXR_INSTANTIATE(double)
#undef CXR_INSTANTIATE

}  // namespace cxr::cpu
