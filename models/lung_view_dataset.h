// A built dataset seen through a lung view (models/lung_view.h): every cached square
// replaced by its crop or mask to the lungs the segmenter predicts on it, for training
// and evaluating a classifier that is only allowed to see the lungs.
//
// The output folder is a dataset like any other (cache.bin, manifest.csv unchanged,
// stats.json) plus the segmenter (lung-model.safetensors). Its cache header carries
// the train split's new pixel mean and deviation; stats.json's settings gain
// lung_view ("crop:0.1") and lung_model ({"file", "sha256"}), which `cxr train`
// copies into the model file (and the segmenter beside it), so a model names the view
// it was trained with and prediction applies it (models/model_file.h, inference.cpp).
#pragma once

#include "models/lung_view.h"
#include "models/seg_model.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>

namespace cxr {

inline constexpr const char* kLungModelFile = "lung-model.safetensors";

struct LungViewDatasetReport {
  std::int64_t images = 0, unchanged = 0;  // unchanged: the segmenter found no lungs
  float mean = 0, stddev = 1;              // of the train split after the view
};

// Reads in_dir (a build without a lung view: views do not stack), writes out_dir
// (created; its files written atomically). segmenter_file
// is copied as out_dir/lung-model.safetensors. progress(done, total) after each image.
LungViewDatasetReport write_lung_view_dataset(const std::filesystem::path& in_dir, const std::filesystem::path& out_dir,
                                              SegModel& segmenter, const std::filesystem::path& segmenter_file,
                                              const LungView& view,
                                              const std::function<void(std::int64_t, std::int64_t)>& progress = {});

// The model-file metadata of a dataset's lung view: {"lung_view": "crop:0.1",
// "lung_model_sha256": ...}, empty for a dataset without one.
std::map<std::string, std::string> dataset_lung_view_metadata(const std::filesystem::path& data_dir);

}  // namespace cxr
