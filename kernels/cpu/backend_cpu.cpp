// The CPU backend: host memory (host_memory.h) and the reference kernels of
// kernels/cpu, one table per dtype. Every entry is the kernel of the same name.
#include "kernels/backend.h"

#include "kernels/cpu/activation.h"
#include "kernels/cpu/augment.h"
#include "kernels/cpu/batch_norm.h"
#include "kernels/cpu/channels.h"
#include "kernels/cpu/conv2d.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/host_memory.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/optimizer.h"
#include "kernels/cpu/pool.h"
#include "kernels/cpu/resize.h"
#include "kernels/cpu/segmentation_loss.h"
#include "kernels/cpu/soft_target_loss.h"
#include "kernels/cpu/softmax.h"

#include <cstring>

namespace cxr {

namespace {

template <class T>
constexpr Kernels<T> cpu_kernels() {
  return {
      .fill = cpu::fill<T>,
      .add_forward = cpu::add_forward<T>,
      .add_inplace = cpu::add_inplace<T>,
      .scale_forward = cpu::scale_forward<T>,
      .scale_inplace = cpu::scale_inplace<T>,
      .relu_forward = cpu::relu_forward<T>,
      .relu_backward = cpu::relu_backward<T>,
      .dropout_forward = cpu::dropout_forward<T>,
      .dropout_backward = cpu::dropout_backward<T>,
      .sum_forward = cpu::sum_forward<T>,
      .conv2d_forward = cpu::conv2d_forward<T>,
      .conv2d_backward = cpu::conv2d_backward<T>,
      .linear_forward = cpu::linear_forward<T>,
      .linear_backward = cpu::linear_backward<T>,
      .batch_norm_forward_train = cpu::batch_norm_forward_train<T>,
      .batch_norm_forward_eval = cpu::batch_norm_forward_eval<T>,
      .batch_norm_backward = cpu::batch_norm_backward<T>,
      .max_pool2d_forward = cpu::max_pool2d_forward<T>,
      .max_pool2d_backward = cpu::max_pool2d_backward<T>,
      .avg_pool2d_forward = cpu::avg_pool2d_forward<T>,
      .avg_pool2d_backward = cpu::avg_pool2d_backward<T>,
      .global_avg_pool2d_forward = cpu::global_avg_pool2d_forward<T>,
      .global_avg_pool2d_backward = cpu::global_avg_pool2d_backward<T>,
      .softmax_forward = cpu::softmax_forward<T>,
      .softmax_backward = cpu::softmax_backward<T>,
      .log_softmax_forward = cpu::log_softmax_forward<T>,
      .log_softmax_backward = cpu::log_softmax_backward<T>,
      .cross_entropy_forward = cpu::cross_entropy_forward<T>,
      .cross_entropy_backward = cpu::cross_entropy_backward<T>,
      .label_set_cross_entropy_forward = cpu::label_set_cross_entropy_forward<T>,
      .label_set_cross_entropy_backward = cpu::label_set_cross_entropy_backward<T>,
      .resize_bilinear_forward = cpu::resize_bilinear_forward<T>,
      .resize_bilinear_backward = cpu::resize_bilinear_backward<T>,
      .sigmoid_forward = cpu::sigmoid_forward<T>,
      .sigmoid_backward = cpu::sigmoid_backward<T>,
      .tanh_forward = cpu::tanh_forward<T>,
      .tanh_backward = cpu::tanh_backward<T>,
      .leaky_relu_forward = cpu::leaky_relu_forward<T>,
      .leaky_relu_backward = cpu::leaky_relu_backward<T>,
      .copy_channels = cpu::copy_channels<T>,
      .bce_with_logits_forward = cpu::bce_with_logits_forward<T>,
      .bce_with_logits_backward = cpu::bce_with_logits_backward<T>,
      .soft_dice_forward = cpu::soft_dice_forward<T>,
      .soft_dice_backward = cpu::soft_dice_backward<T>,
      .soft_target_cross_entropy_forward = cpu::soft_target_cross_entropy_forward<T>,
      .soft_target_cross_entropy_backward = cpu::soft_target_cross_entropy_backward<T>,
      .adamw_update = cpu::adamw_update<T>,
      .sgd_update = cpu::sgd_update<T>,
      .sum_of_squares = cpu::sum_of_squares<T>,
  };
}

void fill_host_bytes(void* dst, unsigned char byte, std::size_t n) {
  std::memset(dst, byte, n);
}

// Host to host: the CPU has no memory but the host's.
void copy_host_bytes(void* dst, bool, const void* src, bool, std::size_t n) {
  std::memmove(dst, src, n);
}

constexpr Backend kCpuBackend{
    .name = "cpu",
    .allocate = cpu::host_allocate,
    .deallocate = cpu::host_deallocate,
    .cached_bytes = cpu::host_cached_bytes,
    .release_cache = cpu::host_release_cache,
    .fill_bytes = fill_host_bytes,
    .copy_bytes = copy_host_bytes,
    .normalize_images = cpu::normalize_images,
    .augment_images = cpu::augment_images,
    .f32 = cpu_kernels<float>(),
    .f64 = cpu_kernels<double>(),
};

}  // namespace

const Backend& cpu_backend() {
  return kCpuBackend;
}

}  // namespace cxr
