#include "engine/data/device_batch.h"

#include "engine/check.h"

#ifdef CXR_HAVE_CUDA
#include "kernels/cuda/augment.h"
#include "kernels/cuda/runtime.h"

#include <cstring>
#endif

namespace cxr::data {

Tensor make_image_batch(const std::vector<const std::uint8_t*>& images, int size,
                        const std::vector<AugmentParams>& params, float mean, float stddev, Device device) {
  const auto count = static_cast<std::int64_t>(images.size());
  CXR_CHECK(size >= 1, "make_image_batch: image size {} must be positive", size);
  CXR_CHECK(params.empty() || params.size() == images.size(), "make_image_batch: {} parameter sets for {} images",
            params.size(), images.size());
  const std::int64_t pixels = static_cast<std::int64_t>(size) * size;
  Tensor out = Tensor::empty({count, 1, size, size}, DType::F32, device);
#ifdef CXR_HAVE_CUDA
  if (device.is_cuda()) {
    std::vector<std::uint8_t> staged(static_cast<std::size_t>(count * pixels));
    for (std::int64_t j = 0; j < count; ++j) {
      const std::uint8_t* image = images[j];
      std::vector<std::uint8_t> recoded;
      if (!params.empty() && params[j].jpeg_quality > 0) {  // on the uint8 image, before the warp: on the host
        recoded = jpeg_round_trip(image, size, params[j].jpeg_quality);
        image = recoded.data();
      }
      std::memcpy(staged.data() + j * pixels, image, pixels);
    }
    const cuda::DeviceArray<std::uint8_t> bytes(staged.data(), count * pixels);
    if (params.empty()) {
      cuda::normalize_images(out.data<float>(), bytes.get(), count * pixels, mean, stddev);
    } else {
      std::vector<cuda::AugmentImageParams> plain;
      for (const AugmentParams& p : params)
        plain.push_back({p.angle, p.scale, p.tx, p.ty, p.flip, p.brightness, p.contrast, p.gamma, p.blur_sigma,
                         p.noise_std, p.noise_key, p.border_left, p.border_right, p.border_top, p.border_bottom});
      cuda::augment_images(out.data<float>(), bytes.get(), static_cast<int>(count), size, plain.data(), mean, stddev);
    }
    return out;
  }
#endif
  float* dst = out.data<float>();
  for (std::int64_t j = 0; j < count; ++j) {
    if (params.empty()) {
      normalize_image(dst + j * pixels, images[j], pixels, mean, stddev);
    } else {
      augment_image(dst + j * pixels, images[j], size, params[j], mean, stddev);
    }
  }
  return out;
}

}  // namespace cxr::data
