#include "models/gan_data.h"

#include "base/check.h"

#include <algorithm>
#include <cmath>

namespace cxr {

bool is_frontal_view(const std::string& view) {
  return view == "PA" || view == "AP" || view.rfind("AP ", 0) == 0;
}

GanImages load_gan_images(const data::Dataset& dataset, data::Split split, const std::string& class_name, int size) {
  const std::vector<std::string>& names = dataset.class_names();
  const auto it = std::find(names.begin(), names.end(), class_name);
  CXR_CHECK(it != names.end(), "GAN data: the dataset has no class '{}'", class_name);
  const int label = static_cast<int>(it - names.begin());
  GanImages out;
  for (const std::int64_t i : dataset.indices(split))
    if (dataset.label(i) == label && is_frontal_view(dataset.row(i).view)) out.rows.push_back(i);
  CXR_CHECK(!out.rows.empty(), "GAN data: no frontal '{}' image in the {} split", class_name, data::split_name(split));
  const int side = dataset.image_size();
  const auto m = static_cast<std::int64_t>(out.rows.size());
  out.images = Tensor::empty({m, 1, size, size});
  float* dst = out.images.data<float>();
  std::vector<std::uint8_t> small(static_cast<std::size_t>(size) * size);
  for (std::int64_t r = 0; r < m; ++r) {
    const std::uint8_t* src = dataset.pixels(out.rows[r]);
    data::GreyImage image{side, side, std::vector<std::uint8_t>(src, src + static_cast<std::size_t>(side) * side)};
    data::fit_square(small.data(), size, image, data::Fit::pad);  // square to square: a plain resize
    for (std::size_t p = 0; p < small.size(); ++p) *dst++ = static_cast<float>(small[p]) / 127.5f - 1.0f;
  }
  return out;
}

std::uint8_t gan_pixel_to_byte(float value) {
  return static_cast<std::uint8_t>(std::clamp(std::lround((value + 1.0f) * 127.5f), 0L, 255L));
}

}  // namespace cxr
