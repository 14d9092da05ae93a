// A trained model applied to images: the preprocessing of training for an image
// file of any size, and batched prediction.
//
// Preprocessing is exactly that of `cxr data build` + `cxr train`: decode to 8-bit
// grey (engine/data/image.h), fit to a square of the dataset's image size (pad, or
// crop), (pixel / 255 - mean) / std with the model's normalisation, and, when the
// model was trained at another size than the dataset's (`cxr train --size`), a
// bilinear resize to the model's input size, as the trainer does. The fit and the
// dataset's size come from the model's metadata (ModelInfo::fit_or_pad, fit_size).
// A model trained on a lung-view dataset also has its fitted square cut to the lungs
// (ModelInfo::lung_view, models/lung_view.h) before normalisation.
//
// An image under kMinImageSide pixels a side is refused: it
// holds no radiograph worth classifying (the smallest image in the two datasets
// has a side of 140 px), and enlarging a 1 x 1 image to 224 x 224 would produce a
// confident answer about nothing.
#pragma once

#include "data/dataset.h"
#include "engine/data/image.h"
#include "models/model_file.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace cxr {

inline constexpr int kMinImageSide = 32;

// What every evaluation and prediction output carries.
inline constexpr const char* kShortcutCaveat =
    "research software, not a medical device; every COVID-19 image it learnt from comes from one collection "
    "of adult hospital films and most normal and pneumonia images from a pediatric set or one other hospital, "
    "so a model can learn the patient's age or the hospital instead of the disease (cxr eval measures this "
    "per source and age group)";

// The bundled model: $CXR_MODEL when set and not empty, else cxr-small.safetensors
// of the installation or the build tree the program runs from (models/bundled_files.h).
std::string default_model_path();

struct PreparedImage {
  data::GreyImage source;      // the decoded image at its own size
  data::GreyImage fitted;      // fit_size x fit_size, before normalisation
  data::FitGeometry geometry;  // source -> fitted
  Tensor input;                // float32 [1, 1, S, S], normalised, S = the model's input size
};

// Why an image cannot be used: `code` is unreadable_file, corrupt_image,
// image_too_large or image_too_small; what() is "'<path>': <code>: <detail>", or
// "<code>: <detail>" for an image in memory (empty path).
class ImageError : public Error {
 public:
  ImageError(const std::string& path, std::string code, std::string detail);
  const std::string& code() const { return code_; }
  const std::string& detail() const { return detail_; }

 private:
  std::string code_, detail_;
};

// Throws ImageError saying what is wrong (not an image, truncated, too small, too
// large, missing or unreadable).
PreparedImage prepare_image(std::span<const std::uint8_t> bytes, const ModelInfo& info);
PreparedImage prepare_image_file(const std::string& path, const ModelInfo& info);

// A fitted square image (size x size uint8) -> the model's input [1, 1, S, S]:
// (pixel / 255 - mean) / std, then resized to S when size differs.
Tensor normalised_input(const std::uint8_t* pixels, int size, const ModelInfo& info);

// Throws cxr::Error when the dataset's class names differ from the model's, its image
// size from the one the model was trained from, or its lung view from the model's.
void check_dataset_matches_model(const data::Dataset& dataset, const ModelInfo& info, const std::string& data_dir,
                                 const std::string& model_path);

// Softmax probabilities [N][classes] of a batch [N, 1, S, S] (on any device: it is
// copied to the net's), in evaluation mode without a graph (folded batch norm on the CPU).
std::vector<std::vector<double>> predict_probabilities(ClassifierNet& net, const Tensor& batch);

}  // namespace cxr
