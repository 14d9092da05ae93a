// Writes the model files and input images of the Grad-CAM parity test: two CXR
// model files (save_model) that tests/reference/gradcam_reference.py loads into
// PyTorch and explains, and that tests/test_gradcam_torch.cpp explains with CXR.
//
// Usage: gradcam_fixture OUT_DIR
//   OUT_DIR/gradcam/cxr-small.safetensors   preset cxr-small at 96 x 96 (3 x 3 last map)
//   OUT_DIR/gradcam/kaggle-sep.safetensors  preset kaggle-sep, widths x 1/4, at 64 x 64
//                                           (separable blocks with and without batch
//                                           norm, plain convs, max pools, hidden layer)
//   OUT_DIR/gradcam/inputs.safetensors      one standard-normal image per model
// Weights are Kaiming-normal as in training; batch-norm affine parameters and running
// statistics are drawn away from their defaults so that every one of them matters.
#include "engine/io/safetensors.h"
#include "engine/random.h"
#include "models/model_file.h"
#include "models/presets.h"

#include <fmt/format.h>

#include <filesystem>
#include <string>

namespace {

using namespace cxr;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void write_model(const std::string& path, const std::string& preset, const NetConfig& config, std::uint64_t seed) {
  auto net = make_net(config);
  ParameterSet params(*net, seed);
  Generator gen(seed + 100);
  for (const auto& p : params.parameters()) {
    if (p.tensor.dim() != 1) continue;  // 1-D: batch-norm gamma/beta and biases
    Tensor t = p.tensor;
    for (std::int64_t i = 0; i < t.numel(); ++i)
      t.data<float>()[i] =
          static_cast<float>(ends_with(p.name, ".weight") ? 1.0 + 0.1 * gen.normal() : 0.1 * gen.normal());
  }
  for (const auto& b : params.buffers()) {
    Tensor t = b.tensor;
    const bool var = ends_with(b.name, "running_var");
    for (std::int64_t i = 0; i < t.numel(); ++i)
      t.data<float>()[i] = static_cast<float>(var ? gen.uniform(0.5, 1.5) : 0.1 * gen.normal());
  }
  ModelInfo info;
  info.preset = preset;
  info.config = config;
  info.class_names = {"covid", "normal", "bacterial", "viral"};
  info.mean = 0.5f;
  info.stddev = 0.25f;
  save_model(path, *net, info);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fmt::print(stderr, "usage: gradcam_fixture OUT_DIR\n");
    return 2;
  }
  try {
    const std::filesystem::path dir = std::filesystem::path(argv[1]) / "gradcam";
    std::filesystem::create_directories(dir);
    const NetConfig small = preset_config("cxr-small", 4, 96);
    const NetConfig kaggle = preset_config("kaggle-sep", 4, 64).narrowed(0.25);
    write_model((dir / "cxr-small.safetensors").string(), "cxr-small", small, 21);
    write_model((dir / "kaggle-sep.safetensors").string(), "kaggle-sep", kaggle, 22);
    Generator gen(23);
    auto image = [&](int size) {
      Tensor t = Tensor::empty({1, 1, size, size});
      for (std::int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(gen.normal());
      return t;
    };
    save_safetensors((dir / "inputs.safetensors").string(), {{"cxr-small", image(96)}, {"kaggle-sep", image(64)}});
    fmt::print("wrote the Grad-CAM fixture to {}\n", dir.string());
  } catch (const std::exception& e) {
    fmt::print(stderr, "gradcam_fixture: {}\n", e.what());
    return 1;
  }
  return 0;
}
