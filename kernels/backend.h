// The device-dispatch seam: everything the engine asks of a device, as one table
// per backend (CPU, CUDA). An op looks its backend up once from the tensor's
// device (engine/backend.h: backend_for, kernels_for) and calls through the table;
// no op names a backend or tests for one.
//
// Dependency rule (arrows point down; nothing points up or sideways):
//   engine/            -> kernels/backend.h, kernels/common/*   (never kernels/cpu, kernels/cuda)
//   kernels/cpu/       -> kernels/backend.h, kernels/common/*, base/
//   kernels/cuda/      -> kernels/backend.h, kernels/common/*, base/
//   kernels/backend.h  -> kernels/common/*
//   kernels/common/    -> the standard library only
// kernels/ never includes engine/. The interface speaks raw pointers and the neutral
// shapes of kernels/common/shapes.h, so a backend needs nothing from the engine.
//
// Pointers are the device's own (host pointers for the CPU); every entry has the
// contract of the CPU reference kernel of the same name (kernels/cpu/<family>.h),
// which the other backends match. Adding an op's kernels: a field here, the CPU
// kernel in kernels/cpu, its address in kernels/cpu/backend_cpu.cpp, and the same for
// CUDA (kernels/cuda, kernels/cuda/backend_cuda.cpp). See docs/backend.md.
#pragma once

#include "kernels/common/augment_params.h"
#include "kernels/common/shapes.h"

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace cxr {

// The kernels of one floating-point type T (float or double).
template <class T>
struct Kernels {
  // ---- elementwise (kernels/cpu/elementwise.h) ----
  void (*fill)(T* dst, T value, std::int64_t n);
  void (*add_forward)(T* out, const T* a, const T* b, std::int64_t n);
  void (*add_inplace)(T* a, const T* b, std::int64_t n);
  void (*scale_forward)(T* out, const T* x, T s, std::int64_t n);
  void (*scale_inplace)(T* a, T s, std::int64_t n);
  void (*relu_forward)(T* out, const T* x, std::int64_t n);
  void (*relu_backward)(T* dx, const T* out, const T* dout, std::int64_t n);
  void (*dropout_forward)(T* out, const T* x, double p, std::uint64_t key, std::int64_t n);
  void (*dropout_backward)(T* dx, const T* dout, double p, std::uint64_t key, std::int64_t n);
  double (*sum_forward)(const T* x, std::int64_t n);  // the total reaches the host

  // ---- convolution and linear (kernels/cpu/conv2d.h, linear.h) ----
  void (*conv2d_forward)(T* y, const T* x, const T* weight, const T* bias, const Conv2dShape& s, bool relu);
  void (*conv2d_backward)(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight, const Conv2dShape& s);
  void (*linear_forward)(T* y, const T* x, const T* weight, const T* bias, std::int64_t N, std::int64_t in,
                         std::int64_t out);
  void (*linear_backward)(T* dx, T* dweight, T* dbias, const T* dy, const T* x, const T* weight, std::int64_t N,
                          std::int64_t in, std::int64_t out);

  // ---- batch normalisation (kernels/cpu/batch_norm.h) ----
  void (*batch_norm_forward_train)(T* out, T* save_mean, T* save_invstd, T* running_mean, T* running_var, const T* x,
                                   const T* gamma, const T* beta, std::int64_t N, std::int64_t C, std::int64_t HW,
                                   double momentum, double eps, bool relu);
  void (*batch_norm_forward_eval)(T* out, T* save_invstd, const T* x, const T* gamma, const T* beta,
                                  const T* running_mean, const T* running_var, std::int64_t N, std::int64_t C,
                                  std::int64_t HW, double eps, bool relu);
  void (*batch_norm_backward)(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x, const T* mean, const T* invstd,
                              const T* gamma, std::int64_t N, std::int64_t C, std::int64_t HW, bool training,
                              const T* relu_out);

  // ---- pooling (kernels/cpu/pool.h) ----
  void (*max_pool2d_forward)(T* out, std::int32_t* argmax, const T* x, const Pool2dShape& s);
  void (*max_pool2d_backward)(T* dx, const T* dout, const std::int32_t* argmax, const Pool2dShape& s);
  void (*avg_pool2d_forward)(T* out, const T* x, const Pool2dShape& s);
  void (*avg_pool2d_backward)(T* dx, const T* dout, const Pool2dShape& s);
  void (*global_avg_pool2d_forward)(T* out, const T* x, std::int64_t maps, std::int64_t HW);
  void (*global_avg_pool2d_backward)(T* dx, const T* dout, std::int64_t maps, std::int64_t HW);

  // ---- softmax and losses (kernels/cpu/softmax.h); the loss value reaches the host ----
  void (*softmax_forward)(T* out, const T* x, std::int64_t N, std::int64_t C);
  void (*softmax_backward)(T* dx, const T* out, const T* dout, std::int64_t N, std::int64_t C);
  void (*log_softmax_forward)(T* out, const T* x, std::int64_t N, std::int64_t C);
  void (*log_softmax_backward)(T* dx, const T* out, const T* dout, std::int64_t N, std::int64_t C);
  double (*cross_entropy_forward)(T* logp, const T* logits, const int* labels, const T* weights, std::int64_t N,
                                  std::int64_t C);
  void (*cross_entropy_backward)(T* dlogits, const T* logp, const int* labels, const T* weights, double dloss,
                                 std::int64_t N, std::int64_t C);
  double (*label_set_cross_entropy_forward)(T* logp, const T* logits, const std::uint32_t* masks, const T* weights,
                                            std::int64_t N, std::int64_t C);
  void (*label_set_cross_entropy_backward)(T* dlogits, const T* logp, const std::uint32_t* masks, const T* weights,
                                           double dloss, std::int64_t N, std::int64_t C);

  // ---- resampling (kernels/cpu/resize.h) ----
  void (*resize_bilinear_forward)(T* out, const T* x, std::int64_t maps, std::int64_t H, std::int64_t W,
                                  std::int64_t OH, std::int64_t OW);
  void (*resize_bilinear_backward)(T* dx, const T* dout, std::int64_t maps, std::int64_t H, std::int64_t W,
                                   std::int64_t OH, std::int64_t OW);

  // ---- activations (kernels/cpu/activation.h) ----
  void (*sigmoid_forward)(T* out, const T* x, std::int64_t n);
  void (*sigmoid_backward)(T* dx, const T* out, const T* dout, std::int64_t n);
  void (*tanh_forward)(T* out, const T* x, std::int64_t n);
  void (*tanh_backward)(T* dx, const T* out, const T* dout, std::int64_t n);
  void (*leaky_relu_forward)(T* out, const T* x, T slope, std::int64_t n);
  void (*leaky_relu_backward)(T* dx, const T* x, const T* dout, T slope, std::int64_t n);

  // ---- channel blocks (kernels/cpu/channels.h) ----
  void (*copy_channels)(T* dst, std::int64_t dst_C, std::int64_t dst_c0, const T* src, std::int64_t src_C,
                        std::int64_t src_c0, std::int64_t C, std::int64_t N, std::int64_t HW);

  // ---- segmentation losses (kernels/cpu/segmentation_loss.h); loss values reach the host ----
  double (*bce_with_logits_forward)(const T* logits, const T* targets, std::int64_t n);
  void (*bce_with_logits_backward)(T* dlogits, const T* logits, const T* targets, double dloss, std::int64_t n);
  double (*soft_dice_forward)(double* stats, const T* probs, const T* targets, std::int64_t maps, std::int64_t HW,
                              double smooth);
  void (*soft_dice_backward)(T* dprobs, const double* stats, const T* targets, double dloss, std::int64_t maps,
                             std::int64_t HW, double smooth);

  // ---- distillation loss (kernels/cpu/soft_target_loss.h); the loss value reaches the host ----
  double (*soft_target_cross_entropy_forward)(T* logp, const T* logits, const T* targets, std::int64_t N,
                                              std::int64_t C);
  void (*soft_target_cross_entropy_backward)(T* dlogits, const T* logp, const T* targets, double dloss, std::int64_t N,
                                             std::int64_t C);

  // ---- optimizers (kernels/cpu/optimizer.h) ----
  void (*adamw_update)(T* param, T* m, T* v, const T* grad, const AdamWStep& s, std::int64_t n);
  void (*sgd_update)(T* param, T* momentum_buffer, const T* grad, const SGDStep& s, std::int64_t n);
  double (*sum_of_squares)(const T* x, std::int64_t n);  // reaches the host
};

// One backend: its memory and its kernels of every dtype.
struct Backend {
  const char* name;  // "cpu", "cuda"

  // ---- memory of the device ----
  // Blocks come from the backend's cache; `bytes` passed to deallocate must be the
  // size passed to allocate. Throws a cxr::Error (or std::bad_alloc) when out of memory.
  void* (*allocate)(std::size_t bytes);
  void (*deallocate)(void* p, std::size_t bytes);
  std::size_t (*cached_bytes)();  // bytes held in free cached blocks now
  void (*release_cache)();        // hands every free cached block back
  void (*fill_bytes)(void* dst, unsigned char byte, std::size_t n);
  // n bytes between this device and the host, either way or within the device
  // (*_on_device false: host memory). Returns once the host may use the bytes.
  void (*copy_bytes)(void* dst, bool dst_on_device, const void* src, bool src_on_device, std::size_t n);

  // ---- image batches, float32 (kernels/cpu/augment.h) ----
  // in [B, S, S] uint8 on the device; params a host array of B.
  void (*normalize_images)(float* out, const std::uint8_t* in, std::int64_t n, float mean, float stddev);
  void (*augment_images)(float* out, const std::uint8_t* in, int batch, int size, const AugmentParams* params,
                         float mean, float stddev);

  Kernels<float> f32;
  Kernels<double> f64;

  template <class T>
  const Kernels<T>& kernels() const {
    if constexpr (std::is_same_v<T, float>) {
      return f32;
    } else {
      static_assert(std::is_same_v<T, double>, "kernels exist for float and double only");
      return f64;
    }
  }
};

// The CPU backend (kernels/cpu/backend_cpu.cpp): always present.
const Backend& cpu_backend();
// The CUDA backend for GPU `index` (kernels/cuda/backend_cuda.cpp). Throws a
// cxr::Error saying why when the build has no CUDA backend (kernels/cuda/runtime_stub.cpp)
// or the GPU is not there.
const Backend& cuda_backend(int index);

}  // namespace cxr
