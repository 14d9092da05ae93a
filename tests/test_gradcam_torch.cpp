// Grad-CAM and Grad-CAM++ against PyTorch: the same model files (written by
// tests/reference/gradcam_fixture.cpp with save_model), explained by
// tests/reference/gradcam_reference.py with hooks on the same layers, every class,
// both methods, layers from the stem to the last block (a max pool in kaggle-sep).
// The ctest fixture `gradcam_reference_data` writes the files into $CXR_REFERENCE_DIR.
//
// Errors are measured against a scale: the tensor's largest magnitude for features
// and gradients, and for the coarse map the size of the terms of its sum,
// max over pixels of sum_k |w_k A_kp| (the map: that over the coarse peak). A sum's
// rounding error scales with its terms, not with its result, and a ReLU'd sum that
// cancels to almost zero has no relative accuracy in either implementation.
//
// Two comparisons:
//  - float64 on both sides (the float32 weights cast up): only summation orders
//    differ. Measured: at most 2.1e-15 of the scale; the bound 1e-12 leaves a margin
//    of 500 and is 7 orders tighter than the 1e-5;
//  - float32, the production path (load_model; features with batch norm folded into
//    the convolutions) against torch's float32: u = 6e-8 per operation over ~10
//    layers of sums of up to 9 x 512 terms. Measured: at most 1.4e-6 of the scale
//    (features at a kaggle-sep block); the 1e-5 holds with a margin of 7.
#include "engine/io/checkpoint.h"
#include "engine/io/safetensors.h"
#include "models/gradcam.h"
#include "models/model_file.h"
#include "models/presets.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>

using namespace cxr;

namespace {

std::string gradcam_dir() {
  const char* dir = std::getenv("CXR_REFERENCE_DIR");
  if (dir == nullptr || *dir == '\0')
    throw Error(
        "CXR_REFERENCE_DIR is not set: run these tests through ctest, whose fixture "
        "`gradcam_reference_data` writes the PyTorch reference files there");
  return std::string(dir) + "/gradcam";
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (std::int64_t i = 0; i < t.numel(); ++i) m = std::max(m, std::abs(t.at(i)));
  return m;
}

// |ours - ref| <= tol * scale everywhere; returns the largest |ours - ref| / scale.
double expect_close(const Tensor& ours, const Tensor& ref, double tol, double scale, const std::string& what) {
  EXPECT_EQ(ours.numel(), ref.numel()) << what;
  if (ours.numel() != ref.numel()) return 0;
  std::int64_t failures = 0, worst = 0;
  double worst_rel = 0;
  for (std::int64_t i = 0; i < ref.numel(); ++i) {
    const double rel = std::abs(ours.at(i) - ref.at(i)) / scale;
    if (!(rel <= tol)) ++failures;
    if (!(rel <= worst_rel)) {
      worst_rel = rel;
      worst = i;
    }
  }
  EXPECT_EQ(failures, 0) << what << ": " << failures << " of " << ref.numel() << " elements off by more than " << tol
                         << " x " << scale << "; worst at " << worst << ": ours " << ours.at(worst) << ", torch "
                         << ref.at(worst) << " (|diff| / scale " << worst_rel << ")";
  return worst_rel;
}

// The size of the terms of the coarse map's sum: max over pixels of sum_k |w_k A_kp|.
// Rounding errors of a sum scale with this, not with the (possibly cancelled) result.
double term_scale(const Heatmap& h, CamMethod m) {
  const auto w = cam_channel_weights(h.feature_map, h.feature_grad, m);
  const std::int64_t C = h.feature_map.size(0), hw = h.feature_map.size(1) * h.feature_map.size(2);
  double scale = 0;
  for (std::int64_t p = 0; p < hw; ++p) {
    double s = 0;
    for (std::int64_t k = 0; k < C; ++k) s += std::abs(w[k] * h.feature_map.at(k * hw + p));
    scale = std::max(scale, s);
  }
  return scale;
}

struct Case {
  const char* model;
  std::vector<std::string> layers;
};

const Case kCases[] = {{"cxr-small", {"stem", "blocks.4", "blocks.7"}},
                       {"kaggle-sep", {"blocks.3", "blocks.11", "blocks.12"}}};
constexpr CamMethod kMethods[] = {CamMethod::GradCam, CamMethod::GradCamPlusPlus};

// Compares every layer, class and method within tol (see the tests for the scales);
// returns the largest normalised error of a map.
double compare(ClassifierNet& net, const Tensor& input, const SafetensorsFile& ref, const std::string& prefix,
               const Case& c, double tol, int* nontrivial_maps) {
  double worst_map = 0;
  for (const std::string& layer : c.layers) {
    for (int cls = 0; cls < 4; ++cls) {
      for (CamMethod m : kMethods) {
        const Heatmap h = explain(net, input, m, cls, layer);
        const std::string key = fmt::format("{}/{}/{}", prefix, layer, cls);
        const std::string what = fmt::format("{} {} {}", c.model, key, cam_method_name(m));
        if (m == CamMethod::GradCam) {
          const Tensor& features = ref.at(prefix + "/" + layer + "/features");
          const Tensor& grad = ref.at(key + "/grad");
          expect_close(h.feature_map, features, tol, max_abs(features), what + " features");
          expect_close(h.feature_grad, grad, tol, max_abs(grad), what + " gradient");
          const Tensor logits = ref.at(prefix + "/logits");
          double psum = 0;
          for (int k = 0; k < 4; ++k) psum += std::exp(logits.at(k));
          for (int k = 0; k < 4; ++k)
            EXPECT_NEAR(h.probabilities[k], std::exp(logits.at(k)) / psum, tol) << what << " probability";
        }
        const std::string mkey = key + "/" + cam_method_name(m);
        const Tensor& coarse = ref.at(mkey + "/coarse");
        const double terms = term_scale(h, m);
        expect_close(h.coarse, coarse, tol, terms, what + " coarse map");
        // The map is the upsampled coarse map over its peak (1 when the peak is 0).
        const double peak = max_abs(coarse) > 0 ? max_abs(coarse) : 1.0;
        worst_map = std::max(worst_map, expect_close(h.map, ref.at(mkey + "/map"), tol, terms / peak, what + " map"));
        if (max_abs(h.map) == 1.0 && h.map.at(0) != 1.0) ++*nontrivial_maps;
      }
    }
  }
  return worst_map;
}

TEST(GradCamTorch, ExplainsLikeTorchInFloat64) {
  const std::string dir = gradcam_dir();
  const SafetensorsFile inputs = load_safetensors(dir + "/inputs.safetensors");
  int nontrivial = 0;
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.model);
    const std::string path = dir + "/" + c.model + ".safetensors";
    const SafetensorsFile ref = load_safetensors(dir + "/" + c.model + "_reference.safetensors");
    const ModelInfo info = load_model(path).info;
    auto net = make_net(info.config);
    ParameterSet params(*net, 0, DType::F64);
    load_checkpoint(path, *net);
    compare(*net, inputs.at(c.model).to(DType::F64), ref, "f64", c, 1e-12, &nontrivial);
  }
  // The comparison means something only if the maps are not all empty or flat.
  EXPECT_GE(nontrivial, 24) << "of 48 maps";
}

TEST(GradCamTorch, ExplainsLikeTorchInFloat32) {
  const std::string dir = gradcam_dir();
  const SafetensorsFile inputs = load_safetensors(dir + "/inputs.safetensors");
  int nontrivial = 0;
  double worst = 0;
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.model);
    LoadedModel model = load_model(dir + "/" + c.model + ".safetensors");
    const SafetensorsFile ref = load_safetensors(dir + "/" + c.model + "_reference.safetensors");
    worst = std::max(worst, compare(*model.net, inputs.at(c.model), ref, "f32", c, 1e-5, &nontrivial));
  }
  EXPECT_GE(nontrivial, 24) << "of 48 maps";
  fmt::print("largest float32 map error: {:.3g} of the term scale\n", worst);
}

}  // namespace
