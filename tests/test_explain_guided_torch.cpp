// Guided backprop and Guided Grad-CAM (models/explain/guided.h) against PyTorch: the
// Grad-CAM parity models and inputs (tests/reference/gradcam_fixture.cpp) and the
// bundled model on a smooth 128 x 128 image, explained by
// tests/reference/guided_reference.py (every ReLU replaced by a function with the
// guided backward) in float64, compared with explain_with() on the same float64 nets.
//
// Both sides compute in float64 and differ only in summation order, as in
// test_explain_torch.cpp: 1e-10 on maps in [0, 1]. The guided rule's sign tests
// (output > 0, gradient > 0) could flip on a value within rounding of 0; none does
// here, and one would show as a difference far above the bound.
#include "engine/io/checkpoint.h"
#include "engine/io/safetensors.h"
#include "models/explain/registry.h"
#include "models/model_file.h"
#include "models/presets.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

using namespace cxr;

namespace {

std::string reference_dir() {
  const char* root = std::getenv("CXR_REFERENCE_DIR");
  return root != nullptr ? std::string(root) + "/gradcam" : std::string();
}

// Compares both methods for all four classes; returns the number of non-empty maps.
int expect_like_torch(ClassifierNet& net, const Tensor& input, const std::string& layer, const SafetensorsFile& ref) {
  ExplainSettings settings;
  settings.layer = layer;
  int nonempty = 0;
  for (int cls = 0; cls < 4; ++cls)
    for (const char* method : {"guided-backprop", "guided-gradcam"}) {
      const std::string key = fmt::format("{}/{}", cls, method);
      const Tensor& want = ref.at(key);
      const Tensor got = explain_with(net, input, method, cls, settings).map;
      EXPECT_EQ(got.numel(), want.numel()) << key;
      if (got.numel() != want.numel()) continue;
      double worst = 0, peak = 0;
      for (std::int64_t i = 0; i < got.numel(); ++i) {
        worst = std::max(worst, std::abs(got.at(i) - want.at(i)));
        peak = std::max(peak, want.at(i));
      }
      EXPECT_LE(worst, 1e-10) << key;
      nonempty += peak == 1.0;
    }
  return nonempty;
}

TEST(ExplainGuidedTorch, ParityModelsExplainLikeTorchInFloat64) {
  const std::string dir = reference_dir();
  ASSERT_FALSE(dir.empty()) << "run through ctest: the fixture writes $CXR_REFERENCE_DIR";
  const SafetensorsFile inputs = load_safetensors(dir + "/inputs.safetensors");
  const std::pair<const char*, const char*> cases[] = {{"cxr-small", "blocks.7"}, {"kaggle-sep", "blocks.12"}};
  int nonempty = 0;
  for (const auto& [model, layer] : cases) {
    SCOPED_TRACE(model);
    const std::string path = dir + "/" + model + ".safetensors";
    auto net = make_net(load_model(path).info.config);
    ParameterSet params(*net, 0, DType::F64);
    load_checkpoint(path, *net);
    nonempty += expect_like_torch(*net, inputs.at(model).to(DType::F64), layer,
                                  load_safetensors(dir + "/" + model + "_guided_reference.safetensors"));
  }
  // Guided Grad-CAM is empty wherever Grad-CAM is (3 of these 8 class-model pairs of
  // random nets); the other 13 of 16 maps must be compared with a positive peak.
  EXPECT_GE(nonempty, 13) << "of 16 maps: the comparison needs non-empty maps";
}

TEST(ExplainGuidedTorch, BundledModelExplainsLikeTorchInFloat64) {
  const std::string dir = reference_dir();
  ASSERT_FALSE(dir.empty()) << "run through ctest: the fixture writes $CXR_REFERENCE_DIR";
  const char* source = std::getenv("CXR_SOURCE_DIR");
  ASSERT_NE(source, nullptr);
  const std::string path = std::string(source) + "/models/pretrained/cxr-small.safetensors";
  auto net = make_net(load_model(path).info.config);
  ParameterSet params(*net, 0, DType::F64);
  load_checkpoint(path, *net);
  const SafetensorsFile ref = load_safetensors(dir + "/bundled_guided_reference.safetensors");
  EXPECT_EQ(expect_like_torch(*net, ref.at("input").to(DType::F64), "blocks.7", ref), 8);
}

}  // namespace
