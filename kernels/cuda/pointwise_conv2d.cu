// Pointwise convolution as GEMMs straight on the NCHW images (see pointwise_conv2d.h).
#include "kernels/cuda/pointwise_conv2d.h"

#include "kernels/cuda/conv2d.h"
#include "kernels/cuda/conv_operands.cuh"

namespace cxr::cuda {

template <class T>
void pointwise_conv2d_forward(T* y, const T* x, const T* weight, const T* bias, const Conv2dShape& s, bool relu) {
  using namespace gemm_detail;
  const i64 HW = s.H * s.W;
  // Y [C_out x N*HW] = W [C_out x C_in] X
  const MatrixOperand<T> a{weight, s.C_in, 0, s.C_out, false};
  const NchwColumns<T> b{x, s.C_in, HW, s.N * HW};
  const NchwStore<T> c{y, s.C_out, s.C_out, HW, s.N * HW, bias, relu};
  launch_gemm<T, Math::Simt>(a, b, c, s.C_out, s.N * HW, s.C_in, 1);
}

template <class T>
void pointwise_conv2d_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight,
                               const Conv2dShape& s) {
  using namespace gemm_detail;
  const i64 HW = s.H * s.W;
  if (dbias) cuda::conv2d_bias_backward(dbias, dy, s);
  if (dweight) {
    // dW [C_out x C_in] = dY [C_out x N*HW] X^T: both operands are channel rows over (n, pixel)
    const NchwRows<T> a{dy, s.C_out, s.C_out, HW, s.N * HW};
    const NchwRows<T> b{x, s.C_in, s.C_in, HW, s.N * HW};
    const MatrixStore<T> c{dweight, s.C_in, 0, s.C_out, s.C_in, T(1), T(0), nullptr, false};
    launch_gemm<T, Math::Simt>(a, b, c, s.C_out, s.C_in, s.N * HW, 1);
  }
  if (dx) {
    // dX [C_in x N*HW] = W^T [C_in x C_out] dY: row ci, column co of W^T is weight[co*C_in + ci]
    const MatrixOperand<T> a{weight, s.C_in, 0, s.C_in, true};
    const NchwColumns<T> b{dy, s.C_out, HW, s.N * HW};
    const NchwStore<T> c{dx, s.C_in, s.C_in, HW, s.N * HW, nullptr, false};
    launch_gemm<T, Math::Simt>(a, b, c, s.C_in, s.N * HW, s.C_out, 1);
  }
}

#define CXR_INSTANTIATE(T)                                                                               \
  template void pointwise_conv2d_forward<T>(T*, const T*, const T*, const T*, const Conv2dShape&, bool); \
  template void pointwise_conv2d_backward<T>(T*, T*, T*, const T*, const T*, const T*, const Conv2dShape&);
CXR_INSTANTIATE(float)
CXR_INSTANTIATE(double)
#undef CXR_INSTANTIATE

}  // namespace cxr::cuda
