// The explanation methods of models/explain/ against PyTorch: the model files and
// inputs of the Grad-CAM parity test (tests/reference/gradcam_fixture.cpp), explained
// by tests/reference/explain_reference.py in float64 for two classes, compared with
// explain_with() on the same float64 nets.
//
// Both sides compute in float64 and differ only in summation order (and Eigen-CAM's
// eigenvector: an SVD there, power iteration here). The maps are in [0, 1]; a sum's
// rounding is ~1e-16 of its terms, and the terms exceed the map's peak by at most a
// few hundred here, so 1e-10 leaves a margin of ~1e4. Eigen-CAM's power iteration
// stops when a step moves the direction by < 1e-13; the error left is that over the
// relative eigengap, so it gets 1e-7.
#include "engine/io/checkpoint.h"
#include "engine/io/safetensors.h"
#include "models/explain/registry.h"
#include "models/model_file.h"
#include "models/presets.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>

using namespace cxr;

namespace {

struct Case {
  std::string model;
  std::vector<std::string> layers;  // as in gradcam_reference.py; the last is the CAM layer
};

const Case kCases[] = {{"cxr-small", {"stem", "blocks.4", "blocks.7"}},
                       {"kaggle-sep", {"blocks.3", "blocks.11", "blocks.12"}}};

TEST(ExplainTorch, EveryMethodExplainsLikeTorchInFloat64) {
  const char* root = std::getenv("CXR_REFERENCE_DIR");
  ASSERT_TRUE(root != nullptr && *root != '\0') << "run through ctest: the fixture writes $CXR_REFERENCE_DIR";
  const std::string dir = std::string(root) + "/gradcam";
  const SafetensorsFile inputs = load_safetensors(dir + "/inputs.safetensors");
  int compared = 0, nontrivial = 0;
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.model);
    const std::string path = dir + "/" + c.model + ".safetensors";
    const SafetensorsFile ref = load_safetensors(dir + "/" + c.model + "_explain_reference.safetensors");
    auto net = make_net(load_model(path).info.config);
    ParameterSet params(*net, 0, DType::F64);
    load_checkpoint(path, *net);
    const Tensor input = inputs.at(c.model).to(DType::F64);
    ExplainSettings settings;
    settings.layer = c.layers.back();
    settings.layers = c.layers;
    settings.ig_steps = 8;
    settings.occlusion_patch = 16;
    settings.occlusion_stride = 12;
    for (int cls : {0, 3})
      for (const char* method : {"hirescam", "xgradcam", "layercam", "scorecam", "eigencam", "saliency", "inputxgrad",
                                 "integrated-gradients", "occlusion"}) {
        const std::string key = fmt::format("{}/{}", cls, method);
        if (std::string(method) == "scorecam" && c.model != "kaggle-sep") continue;  // see the reference script
        const Tensor& want = ref.at(key);
        const Tensor got = explain_with(*net, input, method, cls, settings).map;
        const double tol = std::string(method) == "eigencam" ? 1e-7 : 1e-10;
        ASSERT_EQ(got.numel(), want.numel()) << key;
        double worst = 0;
        for (std::int64_t i = 0; i < got.numel(); ++i) worst = std::max(worst, std::abs(got.at(i) - want.at(i)));
        EXPECT_LE(worst, tol) << c.model << " " << key;
        ++compared;
        double peak = 0;
        for (std::int64_t i = 0; i < want.numel(); ++i) peak = std::max(peak, want.at(i));
        if (peak == 1.0) ++nontrivial;
      }
  }
  EXPECT_EQ(compared, 34);
  EXPECT_GE(nontrivial, 28) << "maps with a positive peak, of 34: the comparison needs non-empty maps";
}

}  // namespace
