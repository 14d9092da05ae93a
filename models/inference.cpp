#include "models/inference.h"

#include "engine/autograd.h"
#include "engine/data/augment.h"
#include "engine/ops.h"
#include "models/bundled_files.h"
#include "models/lung_view.h"
#include "models/lung_view_dataset.h"

#include <fmt/ranges.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace cxr {

ImageError::ImageError(const std::string& path, std::string code, std::string detail)
    : Error(path.empty() ? fmt::format("{}: {}", code, detail) : fmt::format("'{}': {}: {}", path, code, detail)),
      code_(std::move(code)),
      detail_(std::move(detail)) {}

std::string default_model_path() {
  const char* env = std::getenv("CXR_MODEL");
  if (env != nullptr && *env != '\0') return env;
  return bundled_files().model.string();
}

Tensor normalised_input(const std::uint8_t* pixels, int size, const ModelInfo& info) {
  Tensor input = Tensor::empty({1, 1, size, size}, DType::F32);
  data::normalize_image(input.data<float>(), pixels, static_cast<std::int64_t>(size) * size, info.mean, info.stddev);
  const int s = info.config.input_size;
  if (size == s) return input;
  NoGradGuard no_grad;
  return resize_bilinear(input, s, s);
}

namespace {

PreparedImage prepare(std::span<const std::uint8_t> bytes, const ModelInfo& info, const std::string& name) {
  data::DecodeResult decoded = data::decode_grey(bytes, data::DecodeLimits{});
  if (!decoded.ok()) throw ImageError(name, decoded.error, decoded.detail);
  PreparedImage p;
  p.source = std::move(decoded.image);
  if (p.source.width < kMinImageSide || p.source.height < kMinImageSide)
    throw ImageError(name, "image_too_small",
                     fmt::format("{}x{}, a chest X-ray needs at least {} px a side", p.source.width, p.source.height,
                                 kMinImageSide));
  // A model trained on lung-cut images sees its input cut alike (models/lung_view.h).
  const auto view = info.extra.find("lung_view");
  const bool lung_view = view != info.extra.end() && view->second != "none";
  if (lung_view && !info.lung_view)
    throw Error(
        fmt::format("this model was trained on lung-cut images (lung view {}), but its lung segmenter is "
                    "not loaded: load it with load_model, which finds <model>.lungs.safetensors",
                    view->second));
  const int size = info.fit_size();
  const data::Fit fit = info.fit_or_pad();
  p.geometry = data::fit_geometry(p.source.width, p.source.height, size, fit);
  p.fitted = {size, size, std::vector<std::uint8_t>(static_cast<std::size_t>(size) * size)};
  data::fit_square(p.fitted.pixels.data(), size, p.source, fit);
  if (lung_view) {
    LungViewResult cut = info.lung_view->apply(p.fitted);
    p.geometry = cut_geometry(p.geometry, cut, size);
    p.fitted = std::move(cut.image);
  }
  p.input = normalised_input(p.fitted.pixels.data(), size, info);
  return p;
}

}  // namespace

PreparedImage prepare_image(std::span<const std::uint8_t> bytes, const ModelInfo& info) {
  return prepare(bytes, info, "");
}

PreparedImage prepare_image_file(const std::string& path, const ModelInfo& info) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (!fs::exists(status)) throw ImageError(path, "unreadable_file", "no such file");
  if (!fs::is_regular_file(status)) throw ImageError(path, "unreadable_file", "not a regular file");
  const auto bytes = fs::file_size(path, ec);
  if (ec) throw ImageError(path, "unreadable_file", ec.message());
  const auto limit = data::DecodeLimits{}.max_file_bytes;
  if (bytes > static_cast<std::uintmax_t>(limit))
    throw ImageError(path, "image_too_large", fmt::format("{} bytes, the limit is {}", bytes, limit));
  std::vector<std::uint8_t> data(static_cast<std::size_t>(bytes));
  std::ifstream in(path, std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(bytes)))
    throw ImageError(path, "unreadable_file", "cannot read it");
  return prepare(data, info, path);
}

void check_dataset_matches_model(const data::Dataset& dataset, const ModelInfo& info, const std::string& data_dir,
                                 const std::string& model_path) {
  const int size = info.fit_size();
  CXR_CHECK(dataset.image_size() == size,
            "{} holds {}x{} images but {} was trained from {}x{}: rebuild the dataset with --size {}", data_dir,
            dataset.image_size(), dataset.image_size(), model_path, size, size, size);
  const auto model_view = info.extra.find("lung_view");
  const auto data_view = dataset_lung_view_metadata(data_dir);
  const std::string want = model_view != info.extra.end() ? model_view->second : "none";
  const std::string have = data_view.contains("lung_view") ? data_view.at("lung_view") : "none";
  CXR_CHECK(want == have,
            "{} is seen through the lung view {} but {} was trained with the lung view {} (cxr lungs apply)", data_dir,
            have, model_path, want);
  CXR_CHECK(dataset.class_names() == info.class_names, "{} has the classes [{}] but {} predicts [{}]", data_dir,
            fmt::join(dataset.class_names(), ", "), model_path, fmt::join(info.class_names, ", "));
}

std::vector<std::vector<double>> predict_probabilities(ClassifierNet& net, const Tensor& batch) {
  check_dim("predict", "batch", batch, 4);
  net.eval();
  NoGradGuard no_grad;
  const Tensor probs = softmax(net.forward(batch.to(net.device()))).to(Device::cpu()).to(DType::F64).contiguous();
  const std::int64_t n = probs.size(0), k = probs.size(1);
  std::vector<std::vector<double>> out(static_cast<std::size_t>(n));
  const double* p = probs.data<double>();
  for (std::int64_t i = 0; i < n; ++i) out[i].assign(p + i * k, p + (i + 1) * k);
  return out;
}

}  // namespace cxr
