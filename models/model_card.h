// The model card `cxr train` writes next to a model (model.card.json): what the
// model is, what it was trained on and how, and how training went.
//
//   format, version      "cxr-model-card", 1
//   model                file, preset, config, parameters, classes, normalization
//   data                 dir, manifest_sha256, split_seed, images per split and target
//   training             options, threads, class weights, stop reason, epochs run,
//                        steps, seconds, images per second, git commit, cxr version
//   history              one record per epoch (models/trainer.h EpochRecord)
//   final                the best epoch's validation metrics (the saved model) and
//                        the last epoch's, and the saved model's validation split by
//                        source x age group
// Test-split metrics come from `cxr eval`, not from here.
#pragma once

#include "models/model_file.h"
#include "models/trainer.h"

#include <boost/json/object.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace cxr {

struct ModelCard {
  std::filesystem::path model_path;
  ModelInfo info;
  std::int64_t parameters = 0;
  std::filesystem::path data_dir;
  std::string manifest_sha256;
  std::vector<std::string> count_names;                           // what split_counts count: the dataset's targets
  std::map<std::string, std::vector<std::int64_t>> split_counts;  // split -> images per target
  TrainOptions options;
  int threads = 0;
  std::vector<double> class_weights;
  std::string git_commit;
  TrainResult result;
  boost::json::object validation_by_source_and_age;  // the saved model's (models/shortcut_report.h)
};

// Atomic (temp file + rename).
void write_model_card(const std::filesystem::path& path, const ModelCard& card);

// The commit this binary was built from: `git describe --always --dirty` of the
// source tree when the build was configured (so "-dirty" means uncommitted changes
// then); "unknown" when it was configured without git history.
std::string build_commit();

}  // namespace cxr
