// Model files (models/model_file.h): a saved model loads back as the same network
// with the same outputs, and every way a file can be wrong is a clear error.
#include "data_fixtures.h"
#include "expect_error.h"
#include "gradcheck.h"

#include "engine/io/checkpoint.h"
#include "engine/io/safetensors.h"
#include "models/model_file.h"
#include "models/presets.h"

#include <boost/json.hpp>

using namespace cxr;
using cxr::test::TempDir;
using cxr::testing::expect_error_mentioning;
using cxr::testing::random_tensor;

namespace {

ModelInfo info_for(const NetConfig& config, const std::string& preset) {
  ModelInfo info;
  info.preset = preset;
  info.config = config;
  info.class_names = {"covid", "normal", "bacterial", "viral"};
  info.mean = 0.4463f;
  info.stddev = 0.2609f;
  info.extra = {{"trained_by", "test"}};
  return info;
}

// A small model with non-trivial batch-norm statistics, saved to dir/name.
struct Saved {
  std::unique_ptr<ClassifierNet> net;
  std::unique_ptr<ParameterSet> params;
  ModelInfo info;
  std::string path;
};

Saved save_small(const TempDir& dir, const std::string& preset, const std::string& name = "m.safetensors") {
  Saved s;
  s.info = info_for(preset_config(preset, 4, 32).narrowed(0.125), preset);
  s.net = make_net(s.info.config, 1);
  s.params = std::make_unique<ParameterSet>(*s.net, 2);
  Generator gen(3);
  float* b = s.params->buffer_values().data<float>();
  for (std::int64_t i = 0; i < s.params->buffer_values().numel(); ++i) b[i] = static_cast<float>(gen.uniform(0.5, 1.5));
  s.path = (dir / name).string();
  save_model(s.path, *s.net, s.info);
  return s;
}

// The file's tensors with its metadata edited.
void rewrite_metadata(const std::string& path, const std::function<void(std::map<std::string, std::string>&)>& edit) {
  SafetensorsFile f = load_safetensors(path);
  std::vector<std::pair<std::string, Tensor>> tensors(f.tensors.begin(), f.tensors.end());
  edit(f.metadata);
  save_safetensors(path, tensors, f.metadata);
}

TEST(ModelFile, RoundTripGivesTheSameNetworkInfoAndOutputs) {
  TempDir dir;
  for (const char* preset : {"cxr-small", "kaggle-sep"}) {
    Saved s = save_small(dir, preset);
    const LoadedModel m = load_model(s.path);
    EXPECT_EQ(m.info.preset, preset);
    EXPECT_EQ(m.info.config, s.info.config);
    EXPECT_EQ(m.info.class_names, s.info.class_names);
    EXPECT_EQ(m.info.mean, s.info.mean);  // float -> JSON -> float is exact for these
    EXPECT_EQ(m.info.stddev, s.info.stddev);
    EXPECT_EQ(m.info.extra, s.info.extra);
    EXPECT_FALSE(m.net->training());

    s.net->eval();
    NoGradGuard no_grad;
    Generator gen(4);
    const Tensor x = random_tensor({2, 1, 32, 32}, gen, DType::F32);
    const Tensor a = s.net->forward(x), b = m.net->forward(x);
    for (std::int64_t i = 0; i < a.numel(); ++i) EXPECT_EQ(a.at(i), b.at(i)) << preset;  // same weights: exact
  }
}

TEST(ModelFile, MetadataIsReadableByOtherTools) {
  TempDir dir;
  Saved s = save_small(dir, "cxr-small");
  const SafetensorsFile f = load_safetensors(s.path);
  EXPECT_EQ(f.metadata.at("format"), "cxr-model");
  EXPECT_EQ(f.metadata.at("format_version"), "1");
  EXPECT_EQ(f.metadata.at("preset"), "cxr-small");
  EXPECT_EQ(boost::json::parse(f.metadata.at("classes")).as_array().size(), 4u);
  EXPECT_EQ(boost::json::parse(f.metadata.at("config")).at("input_size").as_int64(), 32);
  EXPECT_TRUE(f.contains("blocks.0.depthwise.weight"));
  EXPECT_TRUE(f.contains("blocks.0.bn1.running_mean"));
}

TEST(ModelFile, TypedMetadataRoundTripsUnderItsOldKeys) {
  TempDir dir;
  Saved s = save_small(dir, "cxr-small");
  EXPECT_FALSE(load_model(s.path).info.fit.has_value());  // absent keys stay absent
  s.info.fit = data::Fit::crop;
  s.info.dataset_size = 48;
  s.info.split_seed = 18446744073709551615ULL;
  save_model(s.path, *s.net, s.info);
  const SafetensorsFile f = load_safetensors(s.path);
  EXPECT_EQ(f.metadata.at("fit"), "crop");
  EXPECT_EQ(f.metadata.at("dataset_size"), "48");
  EXPECT_EQ(f.metadata.at("split_seed"), "18446744073709551615");
  const ModelInfo info = load_model(s.path).info;
  EXPECT_EQ(info.fit, data::Fit::crop);
  EXPECT_EQ(info.dataset_size, 48);
  EXPECT_EQ(info.split_seed, 18446744073709551615ULL);
  EXPECT_EQ(info.fit_size(), 48);
  EXPECT_EQ(info.extra, s.info.extra);
}

TEST(ModelFile, TheBundledModelResavesByteForByte) {
  // Files written before the metadata was typed load, and re-save unchanged.
  const char* source = std::getenv("CXR_SOURCE_DIR");
  ASSERT_NE(source, nullptr) << "CXR_SOURCE_DIR (set by ctest)";
  TempDir dir;
  const std::string bundled = std::string(source) + "/models/pretrained/cxr-small.safetensors";
  LoadedModel m = load_model(bundled);
  EXPECT_EQ(m.info.fit, data::Fit::pad);
  EXPECT_EQ(m.info.dataset_size, m.info.config.input_size);
  const std::string copy = (dir / "copy.safetensors").string();
  save_model(copy, *m.net, m.info);
  EXPECT_TRUE(cxr::test::read_file(copy) == cxr::test::read_file(bundled));
}

TEST(ModelFile, SaveRefusesInconsistentInfo) {
  TempDir dir;
  Saved s = save_small(dir, "cxr-small");
  ModelInfo bad = s.info;
  bad.class_names.pop_back();
  expect_error_mentioning([&] { save_model((dir / "x").string(), *s.net, bad); }, {"3 class names", "4 outputs"});
  bad = s.info;
  bad.config.dropout = 0.1;
  expect_error_mentioning([&] { save_model((dir / "x").string(), *s.net, bad); }, {"config"});
  bad = s.info;
  bad.extra["config"] = "{}";
  expect_error_mentioning([&] { save_model((dir / "x").string(), *s.net, bad); }, {"reserved", "config"});
}

TEST(ModelFile, ErrorsNameTheFileAndTheProblem) {
  TempDir dir;
  Saved s = save_small(dir, "cxr-small");

  // A plain checkpoint of the same net: tensors but no model metadata.
  const std::string plain = (dir / "plain.safetensors").string();
  save_checkpoint(plain, *s.net);
  expect_error_mentioning([&] { load_model(plain); }, {plain, "not a CXR model"});

  auto edited = [&](const std::string& name, const std::function<void(std::map<std::string, std::string>&)>& edit) {
    const std::string path = (dir / name).string();
    std::filesystem::copy_file(s.path, path, std::filesystem::copy_options::overwrite_existing);
    rewrite_metadata(path, edit);
    return path;
  };
  const std::string v2 = edited("v2.safetensors", [](auto& m) { m["format_version"] = "2"; });
  expect_error_mentioning([&] { load_model(v2); }, {v2, "unknown format version", "\"2\""});

  const std::string bad_json = edited("badjson.safetensors", [](auto& m) { m["config"] = "{\"in_channels\": 1,"; });
  expect_error_mentioning([&] { load_model(bad_json); }, {bad_json, "config", "not valid JSON"});

  const std::string missing = edited("missing.safetensors", [](auto& m) {
    auto c = boost::json::parse(m["config"]).as_object();
    c.erase("blocks");
    m["config"] = boost::json::serialize(c);
  });
  expect_error_mentioning([&] { load_model(missing); }, {missing, "bad config", "blocks"});

  // A valid config that does not describe the stored tensors.
  const std::string wider = edited("wider.safetensors", [](auto& m) {
    auto c = boost::json::parse(m["config"]).as_object();
    c["stem_channels"] = 8;
    m["config"] = boost::json::serialize(c);
  });
  expect_error_mentioning([&] { load_model(wider); }, {wider, "stem_conv.weight", "[8, 1, 3, 3]"});

  const std::string fewer = edited("fewer.safetensors", [](auto& m) {
    auto c = boost::json::parse(m["config"]).as_object();
    c["blocks"].as_array().pop_back();
    m["config"] = boost::json::serialize(c);
  });
  expect_error_mentioning([&] { load_model(fewer); }, {fewer, "not in the model", "blocks.7"});

  const std::string classes = edited("classes.safetensors", [](auto& m) { m["classes"] = "[\"a\", \"b\"]"; });
  expect_error_mentioning([&] { load_model(classes); }, {classes, "2 class names", "4 outputs"});

  const std::string norm = edited("norm.safetensors", [](auto& m) { m["normalization"] = "{\"mean\": 0.5}"; });
  expect_error_mentioning([&] { load_model(norm); }, {norm, "normalization"});

  // The fit metadata that preprocessing follows (models/inference.h).
  const std::string forty = edited("forty.safetensors", [](auto& m) { m["dataset_size"] = "forty"; });
  expect_error_mentioning([&] { load_model(forty); }, {"dataset_size", "forty"});
  const std::string stretch = edited("stretch.safetensors", [](auto& m) { m["fit"] = "stretch"; });
  expect_error_mentioning([&] { load_model(stretch); }, {"stretch"});

  // Truncated: the data ends early.
  const std::string bytes = cxr::test::read_file(s.path);
  const std::string cut = (dir / "cut.safetensors").string();
  cxr::test::write_file(cut, bytes.substr(0, bytes.size() - 100));
  expect_error_mentioning([&] { load_model(cut); }, {cut});
  expect_error_mentioning([&] { load_model((dir / "absent.safetensors").string()); }, {"absent.safetensors"});
}

}  // namespace
