// Pointwise convolution: GEMMs straight on the NCHW images (see pointwise_conv2d.h).
#include "kernels/cpu/pointwise_conv2d.h"

#include "kernels/cpu/conv2d_tasks.h"
#include "kernels/cpu/gemm.h"

namespace cxr::cpu {

namespace {
// Pixels per task: large enough that packing W is a small cost next to the product.
constexpr std::int64_t kMaxChunkCols = 4096;
}  // namespace

template <class T>
void pointwise_conv2d_forward(T* y, const T* x, const T* weight, const T* bias, const Conv2dShape& s, bool relu) {
  const std::int64_t HW = s.H * s.W;
  const ColumnTasks tasks = column_tasks(s.N, HW, kMaxChunkCols);
  parallel_for(0, tasks.count, 1, [&](std::int64_t t0, std::int64_t t1) {
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t n = tasks.image(t), c0 = tasks.begin(t), cols = tasks.end(t) - c0;
      // Y[n][:, chunk] = relu?(W X[n][:, chunk] + bias), bias and ReLU applied in registers
      gemm<T>(false, false, s.C_out, cols, s.C_in, T(1), weight, s.C_in, x + n * s.C_in * HW + c0, HW, T(0),
              y + n * s.C_out * HW + c0, HW, GemmEpilogue<T>{bias, relu});
    }
  });
}

template <class T>
void pointwise_conv2d_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight,
                               const Conv2dShape& s) {
  if (dbias) conv2d_bias_backward(dbias, dy, s);
  const std::int64_t HW = s.H * s.W;
  const ColumnTasks tasks = column_tasks(s.N, HW, kMaxChunkCols);
  // dX[n][:, chunk] = W^T dY[n][:, chunk]
  auto input_gradient = [&](std::int64_t t) {
    const std::int64_t n = tasks.image(t), c0 = tasks.begin(t), cols = tasks.end(t) - c0;
    gemm<T>(true, false, s.C_in, cols, s.C_out, T(1), weight, s.C_in, dy + n * s.C_out * HW + c0, HW, T(0),
            dx + n * s.C_in * HW + c0, HW);
  };
  if (dweight) {
    // dW += dY[n][:, chunk] X[n][:, chunk]^T, per thread; dX for the same task while dY is warm.
    reduce_over_tasks(dweight, s.C_out * s.C_in, tasks.count, [&](T* partial, std::int64_t t, bool first) {
      const std::int64_t n = tasks.image(t), c0 = tasks.begin(t), cols = tasks.end(t) - c0;
      gemm<T>(false, true, s.C_out, s.C_in, cols, T(1), dy + n * s.C_out * HW + c0, HW, x + n * s.C_in * HW + c0, HW,
              first ? T(0) : T(1), partial, s.C_in);
      if (dx) input_gradient(t);
    });
  } else if (dx) {
    parallel_for(0, tasks.count, 1, [&](std::int64_t t0, std::int64_t t1) {
      for (std::int64_t t = t0; t < t1; ++t) input_gradient(t);
    });
  }
}

#define CXR_INSTANTIATE(T)                                                                               \
  template void pointwise_conv2d_forward<T>(T*, const T*, const T*, const T*, const Conv2dShape&, bool); \
  template void pointwise_conv2d_backward<T>(T*, T*, T*, const T*, const T*, const T*, const Conv2dShape&);
CXR_INSTANTIATE(float)
CXR_INSTANTIATE(double)
#undef CXR_INSTANTIATE

}  // namespace cxr::cpu
