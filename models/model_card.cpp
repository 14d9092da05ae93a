#include "models/model_card.h"

#include "engine/io/atomic_file.h"
#include "models/build_commit.h"  // generated at configure time (models/CMakeLists.txt)
#include "models/json_fields.h"
#include "models/train_state.h"

#include <boost/json.hpp>

namespace cxr {

namespace json = boost::json;

std::string build_commit() {
  return kBuildCommit;
}

void write_model_card(const std::filesystem::path& path, const ModelCard& c) {
  const TrainResult& r = c.result;
  json::array classes, weights, history;
  for (const auto& name : c.info.class_names) classes.emplace_back(name);
  for (double w : c.class_weights) weights.emplace_back(w);
  for (const auto& e : r.history) history.push_back(to_json(e));

  json::object counts;
  for (const auto& [split, per_class] : c.split_counts) {
    json::object o;
    for (std::size_t k = 0; k < per_class.size() && k < c.count_names.size(); ++k) o[c.count_names[k]] = per_class[k];
    counts[split] = std::move(o);
  }

  json::object final_metrics;
  if (r.best_epoch > 0) final_metrics["best"] = to_json(r.history.at(r.best_epoch - 1));
  if (!r.history.empty()) final_metrics["last"] = to_json(r.history.back());
  if (!c.validation_by_source_and_age.empty()) final_metrics["by_source_and_age"] = c.validation_by_source_and_age;
  final_metrics["note"] = "validation split; test-split metrics come from `cxr eval`";

  const json::object card{
      {"format", "cxr-model-card"},
      {"version", 1},
      {"model", json::object{{"file", c.model_path.filename().string()},
                             {"preset", c.info.preset},
                             {"config", to_json(c.info.config)},
                             {"parameters", c.parameters},
                             {"classes", classes},
                             {"normalization", json::object{{"mean", c.info.mean}, {"std", c.info.stddev}}}}},
      {"data", json::object{{"dir", c.data_dir.string()},
                            {"manifest_sha256", c.manifest_sha256},
                            {"split_seed", c.info.split_seed ? json::value(*c.info.split_seed) : json::value(nullptr)},
                            {"lung_view", c.info.extra.contains("lung_view") ? json::value(c.info.extra.at("lung_view"))
                                                                             : json::value("none")},
                            {"images", counts}}},
      {"training", json::object{{"options", to_json(c.options)},
                                {"threads", c.threads},
                                {"class_weights", weights},
                                {"stop_reason", stop_reason_name(r.stop)},
                                {"epochs_run", static_cast<std::int64_t>(r.history.size())},
                                {"best_epoch", r.best_epoch},
                                {"steps", r.steps},
                                {"seconds", r.train_seconds},
                                {"images_per_second", r.images_per_second},
                                {"git_commit", c.git_commit},
                                {"cxr_version", CXR_VERSION}}},
      {"history", history},
      {"final", final_metrics},
  };
  write_file_atomically(path.string(), json_fields::pretty_json(card));
}

}  // namespace cxr
