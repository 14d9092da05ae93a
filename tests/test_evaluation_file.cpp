// The evaluation beside a model file (models/evaluation_file.h): found by name, its
// metrics returned whole, absent is not an error, broken is one that names the file.
#include "data_fixtures.h"
#include "expect_error.h"

#include "models/evaluation_file.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

using namespace cxr;
using cxr::test::TempDir;
using cxr::testing::expect_error_mentioning;

namespace {

void write(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

TEST(EvaluationFile, PathIsTheModelsStemWithEvalJson) {
  EXPECT_EQ(evaluation_path_for("models/pretrained/cxr-small.safetensors"),
            std::filesystem::path("models/pretrained/cxr-small.eval.json"));
  EXPECT_EQ(evaluation_path_for("/a/b/model.v2.safetensors"), std::filesystem::path("/a/b/model.v2.eval.json"));
}

TEST(EvaluationFile, ReturnsTheMetricsObject) {
  TempDir dir;
  write(dir / "m.eval.json", R"({"model": "m.safetensors", "metrics": {"count": 3, "accuracy": 0.5,
        "classes": [{"name": "covid", "f1": 0.25}]}, "images": []})");
  const auto metrics = read_evaluation_beside(dir / "m.safetensors");
  ASSERT_TRUE(metrics.has_value());
  EXPECT_EQ(metrics->at("count").as_int64(), 3);
  EXPECT_DOUBLE_EQ(metrics->at("accuracy").as_double(), 0.5);
  EXPECT_EQ(metrics->at("classes").as_array().at(0).as_object().at("name").as_string(), "covid");
  EXPECT_FALSE(metrics->contains("images"));  // only the metrics, not the per-image list
}

TEST(EvaluationFile, NoFileIsNoMetrics) {
  TempDir dir;
  EXPECT_FALSE(read_evaluation_beside(dir / "m.safetensors").has_value());
}

TEST(EvaluationFile, BrokenFilesAreErrorsNamingThem) {
  TempDir dir;
  write(dir / "a.eval.json", R"({"metrics": {"count": 1)");
  expect_error_mentioning([&] { read_evaluation_beside(dir / "a.safetensors"); }, {"a.eval.json", "not JSON"});
  write(dir / "b.eval.json", R"({"model": "b"})");
  expect_error_mentioning([&] { read_evaluation_beside(dir / "b.safetensors"); }, {"b.eval.json", "metrics"});
  write(dir / "c.eval.json", R"({"metrics": [1, 2]})");
  expect_error_mentioning([&] { read_evaluation_beside(dir / "c.safetensors"); }, {"c.eval.json", "metrics"});
}

TEST(EvaluationFile, TheBundledModelHasItsMetrics) {
  const char* source = std::getenv("CXR_SOURCE_DIR");
  ASSERT_NE(source, nullptr) << "CXR_SOURCE_DIR (set by ctest)";
  const auto metrics =
      read_evaluation_beside(std::filesystem::path(source) / "models/pretrained/cxr-small.safetensors");
  ASSERT_TRUE(metrics.has_value());
  EXPECT_EQ(metrics->at("count").as_int64(), 1044);  // the test split of the build with NIH
  EXPECT_EQ(metrics->at("classes").as_array().size(), 4u);
  // The shortcut figures travel with the metrics (the web app's section 6).
  for (const char* key : {"by_source_and_age", "source_probe", "lung_energy", "train_sources"})
    EXPECT_TRUE(metrics->contains(key)) << key;
}

}  // namespace
