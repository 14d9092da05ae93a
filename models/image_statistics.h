// A short vector of statistics of one input image (the grey H x W image as the net
// sees it, after normalisation) for the out-of-distribution gate's third Mahalanobis
// score (models/ood_gate.h): what a chest X-ray's pixels look like, independent of
// the network. Synthetic patterns that fool the features and the thumbnail (a linear
// gradient: smooth, no edges; an XOR pattern: edges everywhere, no smooth regions)
// lie far from radiographs in these statistics, and so do noise and blank images.
//
// The image is first standardised, z = (x - mean) / sd over its pixels, so every
// statistic but the first two is independent of brightness and contrast:
//   [0, 2)    mean and standard deviation of x (the normalised input itself)
//   [2, 18)   histogram of z over [-3, 3] in 16 equal bins (ends clamped), shares
//   [18, 27)  histogram of log10 of the gradient magnitude |grad z| (forward
//             differences), bins: below -3 (flat), 7 of width 0.5 from -3 to 0.5,
//             above 0.5; shares of the (H-1)(W-1) positions
//   [27, 35)  histogram of log10 of the standard deviation of z in each 8 x 8 block
//             (whole blocks only), bins: below -2.5, 6 of width 0.5 from -2.5 to 0.5,
//             above 0.5; shares of the blocks
//   35        log10 of mean |laplacian z| / mean |grad z| (+1e-6 each): curvature
//             against slope, about -inf for a linear ramp
// A constant image (sd <= kFlatImageSd: what rounding leaves of 0) has sd = 0 and
// z = 0: all mass in the middle histogram bin and the flat bins, ratio 0. (A uint8
// image with one pixel changed has sd above 1e-5 after normalisation.)
#pragma once

#include <cstdint>
#include <vector>

namespace cxr {

inline constexpr int kImageStatistics = 36;
inline constexpr int kStatisticsBlock = 8;
inline constexpr double kFlatImageSd = 1e-8;

// Appends the kImageStatistics values of the image x (row-major h x w, h, w >= 2).
void append_image_statistics(std::vector<double>& out, const double* x, std::int64_t h, std::int64_t w);

}  // namespace cxr
