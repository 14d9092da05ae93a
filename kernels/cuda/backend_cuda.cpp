// The CUDA backend: device memory from the caching allocator (runtime.h) and the
// kernels of kernels/cuda, one table per dtype. Every entry is the kernel of the
// same name, with the contract of its CPU reference. Plain C++: the kernels' headers
// declare host functions, so this file needs no nvcc.
#include "kernels/backend.h"

#include "kernels/cuda/activation.h"
#include "kernels/cuda/augment.h"
#include "kernels/cuda/batch_norm.h"
#include "kernels/cuda/channels.h"
#include "kernels/cuda/conv2d.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/linear.h"
#include "kernels/cuda/optimizer.h"
#include "kernels/cuda/pool.h"
#include "kernels/cuda/resize.h"
#include "kernels/cuda/runtime.h"
#include "kernels/cuda/segmentation_loss.h"
#include "kernels/cuda/soft_target_loss.h"
#include "kernels/cuda/softmax.h"

namespace cxr {

namespace {

template <class T>
constexpr Kernels<T> cuda_kernels() {
  return {
      .fill = cuda::fill<T>,
      .add_forward = cuda::add_forward<T>,
      .add_inplace = cuda::add_inplace<T>,
      .scale_forward = cuda::scale_forward<T>,
      .scale_inplace = cuda::scale_inplace<T>,
      .relu_forward = cuda::relu_forward<T>,
      .relu_backward = cuda::relu_backward<T>,
      .dropout_forward = cuda::dropout_forward<T>,
      .dropout_backward = cuda::dropout_backward<T>,
      .sum_forward = cuda::sum_forward<T>,
      .conv2d_forward = cuda::conv2d_forward<T>,
      .conv2d_backward = cuda::conv2d_backward<T>,
      .linear_forward = cuda::linear_forward<T>,
      .linear_backward = cuda::linear_backward<T>,
      .batch_norm_forward_train = cuda::batch_norm_forward_train<T>,
      .batch_norm_forward_eval = cuda::batch_norm_forward_eval<T>,
      .batch_norm_backward = cuda::batch_norm_backward<T>,
      .max_pool2d_forward = cuda::max_pool2d_forward<T>,
      .max_pool2d_backward = cuda::max_pool2d_backward<T>,
      .avg_pool2d_forward = cuda::avg_pool2d_forward<T>,
      .avg_pool2d_backward = cuda::avg_pool2d_backward<T>,
      .global_avg_pool2d_forward = cuda::global_avg_pool2d_forward<T>,
      .global_avg_pool2d_backward = cuda::global_avg_pool2d_backward<T>,
      .softmax_forward = cuda::softmax_forward<T>,
      .softmax_backward = cuda::softmax_backward<T>,
      .log_softmax_forward = cuda::log_softmax_forward<T>,
      .log_softmax_backward = cuda::log_softmax_backward<T>,
      .cross_entropy_forward = cuda::cross_entropy_forward<T>,
      .cross_entropy_backward = cuda::cross_entropy_backward<T>,
      .label_set_cross_entropy_forward = cuda::label_set_cross_entropy_forward<T>,
      .label_set_cross_entropy_backward = cuda::label_set_cross_entropy_backward<T>,
      .resize_bilinear_forward = cuda::resize_bilinear_forward<T>,
      .resize_bilinear_backward = cuda::resize_bilinear_backward<T>,
      .sigmoid_forward = cuda::sigmoid_forward<T>,
      .sigmoid_backward = cuda::sigmoid_backward<T>,
      .tanh_forward = cuda::tanh_forward<T>,
      .tanh_backward = cuda::tanh_backward<T>,
      .leaky_relu_forward = cuda::leaky_relu_forward<T>,
      .leaky_relu_backward = cuda::leaky_relu_backward<T>,
      .copy_channels = cuda::copy_channels<T>,
      .bce_with_logits_forward = cuda::bce_with_logits_forward<T>,
      .bce_with_logits_backward = cuda::bce_with_logits_backward<T>,
      .soft_dice_forward = cuda::soft_dice_forward<T>,
      .soft_dice_backward = cuda::soft_dice_backward<T>,
      .soft_target_cross_entropy_forward = cuda::soft_target_cross_entropy_forward<T>,
      .soft_target_cross_entropy_backward = cuda::soft_target_cross_entropy_backward<T>,
      .adamw_update = cuda::adamw_update<T>,
      .sgd_update = cuda::sgd_update<T>,
      .sum_of_squares = cuda::sum_of_squares<T>,
  };
}

constexpr Backend kCudaBackend{
    .name = "cuda",
    .allocate = cuda::device_alloc,
    .deallocate = cuda::device_free,
    .cached_bytes = cuda::cached_bytes,
    .release_cache = cuda::release_cache,
    .fill_bytes = cuda::fill_bytes,
    .copy_bytes = cuda::copy_bytes,
    .normalize_images = cuda::normalize_images,
    .augment_images = cuda::augment_images,
    .f32 = cuda_kernels<float>(),
    .f64 = cuda_kernels<double>(),
};

}  // namespace

const Backend& cuda_backend(int index) {
  cuda::require_device(index);
  return kCudaBackend;
}

}  // namespace cxr
