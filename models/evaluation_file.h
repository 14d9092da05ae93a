// The evaluation `cxr eval --json` writes beside a model file (models/pretrained has
// cxr-small.eval.json next to cxr-small.safetensors): its test-split metrics, so that
// a model registered for serving shows them like a fine-tuned version does.
#pragma once

#include <boost/json.hpp>

#include <filesystem>
#include <optional>

namespace cxr {

// `dir/name.safetensors` -> `dir/name.eval.json`.
std::filesystem::path evaluation_path_for(const std::filesystem::path& model_file);

// The "metrics" object of the evaluation beside `model_file` (count, accuracy,
// classes, macro, weighted, ece, confusion_matrix, ...), with the evaluation's shortcut
// figures added where it has them (by_source_and_age, source_probe, lung_energy,
// train_sources: app/eval_command.cpp); nullopt when there is no such
// file. A file that is there but unreadable, not JSON or without a "metrics" object is a
// cxr::Error naming it.
std::optional<boost::json::object> read_evaluation_beside(const std::filesystem::path& model_file);

}  // namespace cxr
