// The CT segmentation model the server answers POST /api/v1/segment with: one model
// loaded at start, its forward passes one at a time (a lock; a 128 px U-Net pass takes
// milliseconds, and the handler pool, not the I/O threads, waits for it).
#pragma once

#include "models/seg_model.h"

#include <mutex>
#include <string>

namespace cxr::server {

class Segmenter {
 public:
  explicit Segmenter(const std::string& model_path);  // throws cxr::Error for a bad file
  SegPrediction segment(const data::GreyImage& image);
  SegTask task() const { return model_.task; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  SegModel model_;
  std::mutex mutex_;
};

// The bundled CT model beside the bundled classifier (models/bundled_files.h):
// <folder of cxr-small>/ct-seg.safetensors; empty when it is not there.
std::string bundled_seg_model_path();

}  // namespace cxr::server
