#include "server/segmenter.h"

#include "models/bundled_files.h"

#include <filesystem>

namespace cxr::server {

Segmenter::Segmenter(const std::string& model_path) : path_(model_path), model_(load_seg_model(model_path)) {}

SegPrediction Segmenter::segment(const data::GreyImage& image) {
  std::lock_guard lock(mutex_);
  return predict_seg(model_, image);
}

std::string bundled_seg_model_path() {
  const std::filesystem::path path = bundled_files().model.parent_path() / "ct-seg.safetensors";
  return std::filesystem::exists(path) ? path.string() : std::string();
}

}  // namespace cxr::server
