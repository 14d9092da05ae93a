// conv2d on the GPU: the dispatcher, the implicit-GEMM path and the bias gradient
// (see conv2d.h for the three products and conv_operands.cuh for the operands).
#include "kernels/cuda/conv2d.h"

#include "kernels/cuda/channel_reduce.cuh"
#include "kernels/cuda/conv_operands.cuh"
#include "kernels/cuda/depthwise_conv2d.h"
#include "kernels/cuda/pointwise_conv2d.h"

namespace cxr::cuda {

namespace {

using gemm_detail::ConvGeometry;
using gemm_detail::i64;

ConvGeometry geometry(const Conv2dShape& s) {
  CXR_CHECK(
      s.H * s.W < (i64{1} << 31) && s.K < (i64{1} << 15) && s.stride < (i64{1} << 31) && s.padding < (i64{1} << 31),
      "conv2d: a {}x{} map with a {}x{} kernel is too large for the CUDA kernels", s.H, s.W, s.K, s.K);
  return {s.C_in,
          s.H,
          s.W,
          s.C_out,
          s.H_out,
          s.W_out,
          s.C_in / s.groups,
          s.C_out / s.groups,
          static_cast<int>(s.K),
          static_cast<int>(s.stride),
          static_cast<int>(s.padding)};
}

// Sums dy over each channel's maps.
template <class T>
struct BiasSum {
  const T* dy;
  __device__ int begin(i64) const { return 0; }
  __device__ void add(int, i64 at, double (&acc)[1]) const { acc[0] += static_cast<double>(__ldg(dy + at)); }
};

template <class T>
__global__ void bias_finish_kernel(T* dbias, const double* partials, i64 C, int chunks) {
  const i64 c = blockIdx.x * static_cast<i64>(blockDim.x) + threadIdx.x;
  if (c < C) dbias[c] = static_cast<T>(channel_total<1>(partials, c, chunks, 0));
}

}  // namespace

template <class T>
void conv2d_forward(T* y, const T* x, const T* weight, const T* bias, const Conv2dShape& s, bool relu) {
  if (is_pointwise(s)) {
    cuda::pointwise_conv2d_forward(y, x, weight, bias, s, relu);
  } else if (is_depthwise3x3(s)) {
    cuda::depthwise_conv2d_forward(y, x, weight, bias, s, relu);
  } else {
    cuda::conv2d_implicit_gemm_forward(y, x, weight, bias, s, relu);
  }
}

template <class T>
void conv2d_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight, const Conv2dShape& s) {
  if (is_pointwise(s)) {
    cuda::pointwise_conv2d_backward(dx, dweight, dbias, dy, x, weight, s);
  } else if (is_depthwise3x3(s)) {
    cuda::depthwise_conv2d_backward(dx, dweight, dbias, dy, x, weight, s);
  } else {
    cuda::conv2d_implicit_gemm_backward(dx, dweight, dbias, dy, x, weight, s);
  }
}

template <class T>
void conv2d_bias_backward(T* dbias, const T* dy, const Conv2dShape& s) {
  if (s.C_out == 0) return;
  const i64 P = s.H_out * s.W_out;
  const int chunks = channel_chunks(s.C_out, s.N * P);
  DeviceArray<double> partials(s.C_out * chunks);
  launch_channel_partials<1>(partials.get(), BiasSum<T>{dy}, s.N, s.C_out, P, chunks);
  bias_finish_kernel<T><<<blocks_for(s.C_out, 256), 256, 0, stream()>>>(dbias, partials.get(), s.C_out, chunks);
  CXR_CUDA_LAUNCH_CHECK();
}

template <class T>
void conv2d_implicit_gemm_forward(T* y, const T* x, const T* weight, const T* bias, const Conv2dShape& s, bool relu) {
  using namespace gemm_detail;
  const ConvGeometry g = geometry(s);
  const i64 ckk = g.Cg * s.K * s.K, P = s.H_out * s.W_out;
  // Y[g] [Og x N*P] = W[g] [Og x CKK] col[g]
  const MatrixOperand<T> a{weight, ckk, g.Og * ckk, g.Og, false};
  const Im2col<T> b{x, g, s.N * P};
  const NchwStore<T> c{y, s.C_out, g.Og, P, s.N * P, bias, relu};
  launch_gemm<T, Math::Simt>(a, b, c, g.Og, s.N * P, ckk, s.groups);
}

template <class T>
void conv2d_implicit_gemm_backward(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight,
                                   const Conv2dShape& s) {
  using namespace gemm_detail;
  const ConvGeometry g = geometry(s);
  const i64 kk = s.K * s.K, ckk = g.Cg * kk, P = s.H_out * s.W_out;
  if (dbias) cuda::conv2d_bias_backward(dbias, dy, s);
  if (dweight) {
    // dW[g] [Og x CKK] = dY[g] [Og x N*P] col[g]^T
    const NchwRows<T> a{dy, s.C_out, g.Og, P, s.N * P};
    const Im2colT<T> b{x, g};
    const MatrixStore<T> c{dweight, ckk, g.Og * ckk, g.Og, ckk, T(1), T(0), nullptr, false};
    launch_gemm<T, Math::Simt>(a, b, c, g.Og, ckk, s.N * P, s.groups);
  }
  if (dx) {
    // dX[g] [Cg x N*H*W] = W[g]^T [Cg x Og*KK] gathered dy
    const WeightT<T> a{weight, g};
    const DyGather<T> b{dy, g, s.N * s.H * s.W};
    const NchwStore<T> c{dx, s.C_in, g.Cg, s.H * s.W, s.N * s.H * s.W, nullptr, false};
    launch_gemm<T, Math::Simt>(a, b, c, g.Cg, s.N * s.H * s.W, g.Og * kk, s.groups);
  }
}

#define CXR_INSTANTIATE(T)                                                                                      \
  template void conv2d_forward<T>(T*, const T*, const T*, const T*, const Conv2dShape&, bool);                  \
  template void conv2d_backward<T>(T*, T*, T*, const T*, const T*, const T*, const Conv2dShape&);               \
  template void conv2d_implicit_gemm_forward<T>(T*, const T*, const T*, const T*, const Conv2dShape&, bool);    \
  template void conv2d_implicit_gemm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const Conv2dShape&); \
  template void conv2d_bias_backward<T>(T*, const T*, const Conv2dShape&);
CXR_INSTANTIATE(float)
CXR_INSTANTIATE(double)
#undef CXR_INSTANTIATE

}  // namespace cxr::cuda
