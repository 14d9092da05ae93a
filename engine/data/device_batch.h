// A batch tensor from uint8 images on any device: float32 [B, 1, S, S], each image
// augmented with its parameters (drawn on the host by sample_augment, so the CPU and
// the GPU get the same ones) or only normalised. The bytes go to the batch's device
// (to a GPU: a quarter of the floats) and its backend's kernels run there
// (kernels/cpu/augment.h, kernels/cuda/augment.h), all but the JPEG re-encode of the
// bytes, which stays on the host; the two devices agree to float rounding.
#pragma once

#include "engine/data/augment.h"
#include "engine/tensor.h"

#include <cstdint>
#include <vector>

namespace cxr::data {

// images: B pointers to S x S pixels (host memory). params: B entries, or empty for
// normalisation only.
Tensor make_image_batch(const std::vector<const std::uint8_t*>& images, int size,
                        const std::vector<AugmentParams>& params, float mean, float stddev, Device device);

}  // namespace cxr::data
