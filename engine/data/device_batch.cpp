#include "engine/data/device_batch.h"

#include "base/check.h"
#include "engine/backend.h"
#include "engine/device_buffer.h"

#include <cstring>

namespace cxr::data {

Tensor make_image_batch(const std::vector<const std::uint8_t*>& images, int size,
                        const std::vector<AugmentParams>& params, float mean, float stddev, Device device) {
  const auto count = static_cast<std::int64_t>(images.size());
  CXR_CHECK(size >= 1, "make_image_batch: image size {} must be positive", size);
  CXR_CHECK(params.empty() || params.size() == images.size(), "make_image_batch: {} parameter sets for {} images",
            params.size(), images.size());
  const std::int64_t pixels = static_cast<std::int64_t>(size) * size;
  Tensor out = Tensor::empty({count, 1, size, size}, DType::F32, device);
  // The images in one block, each re-encoded first when its parameters ask for it
  // (on the uint8 image, before the warp: on the host), then copied to the device.
  std::vector<std::uint8_t> staged(static_cast<std::size_t>(count * pixels));
  for (std::int64_t j = 0; j < count; ++j) {
    const std::uint8_t* image = images[j];
    std::vector<std::uint8_t> recoded;
    if (!params.empty() && params[j].jpeg_quality > 0) {
      recoded = jpeg_round_trip(image, size, params[j].jpeg_quality);
      image = recoded.data();
    }
    std::memcpy(staged.data() + j * pixels, image, pixels);
  }
  const DeviceBuffer<std::uint8_t> bytes(staged.data(), count * pixels, device);
  const Backend& backend = backend_for(device);
  if (params.empty()) {
    backend.normalize_images(out.data<float>(), bytes.get(), count * pixels, mean, stddev);
  } else {
    backend.augment_images(out.data<float>(), bytes.get(), static_cast<int>(count), size, params.data(), mean, stddev);
  }
  return out;
}

}  // namespace cxr::data
