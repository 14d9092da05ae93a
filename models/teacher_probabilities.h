// A teacher's class probabilities per dataset image, for knowledge distillation
// (Hinton, Vinyals & Dean 2015): the trainer's --distill-from file. A CSV with a
// header naming the columns "id" (the manifest's image id) and one column per class
// of the model, e.g. written by scripts/teacher-probabilities.py from the mean of an
// ensemble's `cxr eval --json` probabilities. Other columns (source_path) are ignored.
#pragma once

#include "data/dataset.h"
#include "engine/tensor.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

namespace cxr {

class TeacherProbabilities {
 public:
  // Reads the file; every row's values must be finite, in [0, 1] and sum to 1 within
  // 1e-3 (probabilities printed with six or more digits), ids unique. Throws
  // cxr::Error naming the file and line otherwise.
  static TeacherProbabilities read(const std::filesystem::path& path, const std::vector<std::string>& class_names);

  // Throws cxr::Error naming the first of the images that has no row.
  void check_covers(const data::Dataset& dataset, const std::vector<std::int64_t>& indices) const;

  // [indices.size(), classes] float32 targets of these dataset images, on `device`.
  Tensor targets(const data::Dataset& dataset, const std::vector<std::int64_t>& indices, Device device) const;

  std::size_t size() const { return by_id_.size(); }

 private:
  std::filesystem::path path_;
  std::size_t classes_ = 0;
  std::unordered_map<std::int64_t, std::vector<float>> by_id_;
};

}  // namespace cxr
