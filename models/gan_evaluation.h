// What a trained GAN is worth, measured with the project's own classifier:
//
//   CXR-FD        the Fréchet distance (models/frechet_distance.h) between the
//                 classifier's penultimate features (global average pool of its last
//                 block) of two image sets. Not FID: our network, our X-rays. Every
//                 set goes through the classifier's preprocessing at the dataset's
//                 side; generated images are enlarged from the GAN's side, and so are
//                 the "@S" real sets (shrunk to the GAN's side S first) that give the
//                 fair reference for them.
//   nearest       for every generated image, its nearest train image by RMS pixel
//                 distance at the GAN's side and by feature distance; the same for
//                 every real test image of the class as the yardstick (a copy of a
//                 training image would sit far below the test images' distances).
//   augmentation  does adding generated images of the class to training change
//                 per-class F1 on the real test split? At reduced scale: a linear
//                 head retrained from scratch on the frozen features
//                 (models/feature_head.h), over seeds, for three training sets: the
//                 real train split; plus the generated images; plus as many real
//                 train images of the class shrunk to the GAN's side and enlarged
//                 again (a control for the blur alone).
#pragma once

#include "data/dataset.h"
#include "models/gan_trainer.h"
#include "models/model_file.h"

#include <cstdint>
#include <string>
#include <vector>

namespace cxr {

struct GanEvaluationOptions {
  std::string class_name = "covid";
  int generated = 300;  // images sampled from the GAN
  std::uint64_t sample_seed = 1;
  std::vector<std::uint64_t> head_seeds = {1, 2, 3};
  int batch_size = 32;  // classifier forward passes
};

struct NearestSummary {
  double median = 0, p05 = 0, min = 0;  // of the nearest-train distances
};

struct AugmentationArm {
  std::string name;
  std::int64_t train_images = 0;
  std::vector<std::vector<double>> f1;  // [seed][class], on the real test split
  std::vector<double> macro_f1;         // [seed]
};

struct GanEvaluation {
  std::vector<std::string> class_names;
  std::int64_t train_real = 0, test_real = 0, generated = 0;  // images of the class
  int gan_size = 0, dataset_size = 0;
  double fd_generated_train_small = 0;  // CXR-FD(generated, train@S)
  double fd_test_train_small = 0;       // CXR-FD(test@S, train@S): the reference for the line above
  double fd_generated_test_small = 0;   // CXR-FD(generated, test@S)
  double fd_test_train = 0;             // CXR-FD(test, train) at the dataset's side
  NearestSummary pixel_generated, pixel_test, feature_generated, feature_test;
  // The generated images closest to a train image by pixels: (generated index, its
  // nearest train image by pixels, by features), closest first.
  struct Pair {
    std::int64_t generated, train_by_pixels, train_by_features;
    double pixel_distance;
  };
  std::vector<Pair> closest;
  std::vector<AugmentationArm> arms;
  // For pictures: the GAN-size images of both sets (rows as in `closest`).
  Tensor generated_images, train_images;
};

// Logs progress lines to `log` when set. Throws cxr::Error when the dataset and the
// classifier disagree (classes or image size).
GanEvaluation evaluate_gan(GanTrainer& gan, const data::Dataset& dataset, LoadedModel& classifier,
                           const GanEvaluationOptions& options, void (*log)(const std::string&) = nullptr);

}  // namespace cxr
