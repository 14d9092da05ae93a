// How good is a heatmap? Two kinds of measures, for `cxr eval-heatmaps`.
//
// Faithfulness (Petsiuk et al. 2018, "RISE"): the model's probability for the
// explained class as pixels are changed in the map's order, hottest first.
//   deletion:  start from the image and replace pixels by a blurred copy of it;
//              a faithful map makes the probability fall fast (low AUC is good).
//   insertion: start from the blurred copy and put the image's pixels back;
//              the probability should rise fast (high AUC is good).
// The curve has `steps` + 1 points at fractions 0, 1/steps, ..., 1 of the pixels
// (ceil(n/steps) pixels a step, the last step whatever is left); its AUC is the
// trapezoid rule over [0, 1]. Ties in the map are broken in a seeded random order,
// so a map's flat regions are not eaten top to bottom. The blurred baseline is a
// Gaussian blur (sigma in pixels, clamped borders) of the normalised input: blurring
// commutes with the affine normalisation, so it is the blur of the image itself.
//
// Localisation, on images with lung bounding boxes (the ieee8023 COCO annotations,
// Right Lung / Left Lung): boxes are scaled from the annotated image size to the
// decoded file (the shared copy was downscaled), then through the fit geometry onto
// the model's input square.
//   energy inside:  sum of the map over pixels whose centre is in a box (the union),
//                   divided by the sum over all pixels (an all-zero map: 0).
//   pointing game:  a hit when the map's maximum (the first one, row-major) has its
//                   centre in a box (Zhang et al. 2016, here without a tolerance);
//                   an all-zero map points nowhere and misses.
//   box area share: the share of pixels in the boxes: what a uniform map's energy
//                   and a random map's pointing hit rate come to, the chance level.
#pragma once

#include "engine/data/image.h"
#include "engine/random.h"
#include "engine/tensor.h"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace cxr {

// ---- faithfulness -------------------------------------------------------------------
struct Curve {
  std::vector<double> scores;  // steps + 1 probabilities
  double auc = 0;
};

struct DeletionInsertion {
  Curve deletion, insertion;
};

// The probability of the explained class for each image of a batch [N, 1, S, S].
using ScoreFn = std::function<std::vector<double>(const Tensor& batch)>;

// Gaussian blur of [1, 1, S, S] (float32), kernel radius ceil(3 sigma).
Tensor gaussian_blur(const Tensor& image, double sigma);

// Pixel indices (row-major into [S, S]) by decreasing map value, ties in the
// random order of `gen`.
std::vector<std::int64_t> order_by_heat(const Tensor& map, Generator& gen);

double curve_auc(const std::vector<double>& scores);

DeletionInsertion deletion_insertion(const ScoreFn& score, const Tensor& image, const Tensor& baseline,
                                     const std::vector<std::int64_t>& order, int steps);

// ---- localisation ------------------------------------------------------------------
struct Box {
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // continuous coordinates, x0 <= x1, y0 <= y1
};

struct AnnotatedImage {
  int width = 0, height = 0;  // the annotated (original) image size
  std::vector<Box> boxes;     // in those coordinates
};

// COCO bounding boxes by image file name, for the images that have at least one box.
// A bbox of four nulls (upstream has one image annotated that way) is no box.
// Throws cxr::Error naming the file and the malformed field.
std::map<std::string, AnnotatedImage> read_coco_boxes(const std::string& path);

// The boxes on the model's input square, for a decoded file of decoded_w x decoded_h.
std::vector<Box> boxes_on_square(const AnnotatedImage& annotated, int decoded_w, int decoded_h,
                                 const data::FitGeometry& geometry);

// [S, S] mask: 1 where the pixel centre lies in a box.
std::vector<std::uint8_t> box_mask(int size, const std::vector<Box>& boxes);

double energy_inside(const Tensor& map, const std::vector<std::uint8_t>& mask);
bool pointing_hit(const Tensor& map, const std::vector<std::uint8_t>& mask);
double mask_share(const std::vector<std::uint8_t>& mask);

}  // namespace cxr
