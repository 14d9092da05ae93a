// Inference on image files (models/inference.h): the preprocessing of training for
// any JPEG/PNG, clear errors for files that cannot be used, and batched prediction.
#include "data_fixtures.h"
#include "expect_error.h"

#include "engine/autograd.h"
#include "engine/data/augment.h"
#include "engine/ops.h"
#include "models/inference.h"
#include "models/presets.h"

#include <cstdlib>

using namespace cxr;

namespace {

ModelInfo info_for(int input_size) {
  ModelInfo info;
  info.preset = "cxr-small";
  info.config = NetConfig::cxr_small().narrowed(0.125);
  info.config.blocks.resize(2);
  info.config.input_size = input_size;
  info.class_names = {"covid", "normal", "bacterial", "viral"};
  info.mean = 0.4f;
  info.stddev = 0.2f;
  return info;
}

// The code of the ImageError that f throws, and that its message names the file.
std::string error_code(const std::function<void()>& f, const std::string& path) {
  try {
    f();
  } catch (const ImageError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_FALSE(e.detail().empty());
    return e.code();
  }
  return "no error";
}

TEST(Inference, BadFilesGiveClearErrors) {
  cxr::test::TempDir dir;
  const ModelInfo info = info_for(32);
  const auto text = dir / "notes.png";
  cxr::test::write_file(text, "this is not an image");
  const auto good = dir / "good.png";
  cxr::test::write_png(good, 60, 50, 1, cxr::test::pattern(60, 50, 1, 1));
  const std::string bytes = cxr::test::read_file(good);
  const auto truncated = dir / "truncated.png";
  cxr::test::write_file(truncated, bytes.substr(0, bytes.size() / 2));
  const auto tiny = dir / "tiny.png";
  cxr::test::write_png(tiny, 1, 1, 1, {128});
  const auto narrow = dir / "narrow.png";
  cxr::test::write_png(narrow, 400, kMinImageSide - 1, 1, cxr::test::pattern(400, kMinImageSide - 1, 1, 2));

  EXPECT_EQ(error_code([&] { prepare_image_file(text.string(), info); }, text.string()), "corrupt_image");
  EXPECT_EQ(error_code([&] { prepare_image_file(truncated.string(), info); }, truncated.string()), "corrupt_image");
  EXPECT_EQ(error_code([&] { prepare_image_file(tiny.string(), info); }, tiny.string()), "image_too_small");
  EXPECT_EQ(error_code([&] { prepare_image_file(narrow.string(), info); }, narrow.string()), "image_too_small");
  const std::string missing = (dir / "missing.png").string();
  EXPECT_EQ(error_code([&] { prepare_image_file(missing, info); }, missing), "unreadable_file");
  EXPECT_EQ(error_code([&] { prepare_image_file(dir.path().string(), info); }, dir.path().string()), "unreadable_file");
  // In memory: the message starts with the code.
  try {
    prepare_image({reinterpret_cast<const std::uint8_t*>("xyz"), 3}, info);
    ADD_FAILURE() << "no error";
  } catch (const ImageError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("corrupt_image: ", 0), 0u) << e.what();
  }
  // The good one is fine.
  EXPECT_EQ(prepare_image_file(good.string(), info).input.shape(), (Shape{1, 1, 32, 32}));
}

TEST(Inference, PreprocessingIsThatOfTheDatasetAndTheLoader) {
  // A 60 x 50 RGB image: grey by BT.601, fitted (pad) to the input size, normalised
  // with the model's mean and std, exactly as data build + the loader do.
  cxr::test::TempDir dir;
  const auto path = dir / "rgb.png";
  const auto px = cxr::test::pattern(60, 50, 3, 4);
  cxr::test::write_png(path, 60, 50, 3, px);
  const ModelInfo info = info_for(32);
  const PreparedImage p = prepare_image_file(path.string(), info);

  const std::string bytes = cxr::test::read_file(path);
  const data::DecodeResult decoded =
      data::decode_grey({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}, {});
  ASSERT_TRUE(decoded.ok());
  std::vector<std::uint8_t> fitted(32 * 32);
  data::fit_square(fitted.data(), 32, decoded.image, data::Fit::pad);
  std::vector<float> expected(32 * 32);
  data::normalize_image(expected.data(), fitted.data(), 32 * 32, info.mean, info.stddev);
  EXPECT_EQ(p.fitted.pixels, fitted);
  for (int i = 0; i < 32 * 32; ++i) ASSERT_EQ(p.input.data<float>()[i], expected[i]) << i;
  EXPECT_EQ(p.source.width, 60);
  EXPECT_EQ(p.geometry.dst_h, 27);  // 50 * 32 / 60 = 26.7 -> 27
}

TEST(Inference, ModelTrainedAtAnotherSizeSeesTheDatasetSizeResized) {
  // `cxr train --size 24` on a 40 x 40 dataset: the trainer resizes the normalised
  // 40 x 40 batch bilinearly to 24. Prediction must do the same, and crop when the
  // model says so.
  cxr::test::TempDir dir;
  const auto path = dir / "grey.png";
  cxr::test::write_png(path, 90, 70, 1, cxr::test::pattern(90, 70, 1, 5));
  ModelInfo info = info_for(24);
  info.dataset_size = 40;
  info.fit = data::Fit::crop;
  const PreparedImage p = prepare_image_file(path.string(), info);
  EXPECT_EQ(p.fitted.width, 40);
  EXPECT_EQ(p.geometry.src_w, 70);  // crop: the centre 70 x 70
  Tensor at_40 = Tensor::empty({1, 1, 40, 40});
  data::normalize_image(at_40.data<float>(), p.fitted.pixels.data(), 40 * 40, info.mean, info.stddev);
  const Tensor expected = resize_bilinear(at_40, 24, 24);
  ASSERT_EQ(p.input.shape(), (Shape{1, 1, 24, 24}));
  for (int i = 0; i < 24 * 24; ++i) ASSERT_EQ(p.input.data<float>()[i], expected.data<float>()[i]) << i;
  // A malformed fit or dataset size in a model file: tests/test_model_file.cpp.
}

TEST(Inference, PredictsABatchInEvaluationModeWithoutAGraph) {
  const ModelInfo info = info_for(32);
  auto net = make_net(info.config, 0);
  ParameterSet params(*net, 3);
  net->train();
  Generator gen(1);
  Tensor batch = Tensor::empty({3, 1, 32, 32});
  for (std::int64_t i = 0; i < batch.numel(); ++i) batch.data<float>()[i] = static_cast<float>(gen.normal());
  const auto probs = predict_probabilities(*net, batch);
  ASSERT_EQ(probs.size(), 3u);
  EXPECT_FALSE(net->training());
  for (const auto& p : probs) {
    double sum = 0;
    for (double v : p) sum += v;
    EXPECT_NEAR(sum, 1.0, 1e-6);  // float32 softmax
  }
  // One image alone gives the same probabilities as inside the batch (evaluation-mode
  // batch norm does not mix images); the GEMM blocking differs, so float32 rounding.
  const auto single = predict_probabilities(*net, batch.slice_rows(1, 2).contiguous());
  for (int c = 0; c < 4; ++c) EXPECT_NEAR(single[0][c], probs[1][c], 1e-6);
}

TEST(Inference, DefaultModelPathFollowsCxrModel) {
  ::setenv("CXR_MODEL", "/somewhere/model.safetensors", 1);
  EXPECT_EQ(default_model_path(), "/somewhere/model.safetensors");
  ::setenv("CXR_MODEL", "", 1);
  EXPECT_NE(default_model_path().find("models/pretrained/cxr-small.safetensors"), std::string::npos);
  ::unsetenv("CXR_MODEL");
}

}  // namespace
