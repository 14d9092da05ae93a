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
//
// The gate (format version 3) scores the shares on a log scale, log10(share +
// kShareFloor) (log_shares): linear shares are heavy-tailed on real X-rays, because one
// nuisance, the black surround of a film (and the padding to a square), moves a large
// share into one intensity bin and the flat gradient and block bins at once; a few
// such films set the validation tail that every other part's limit shares (docs/
// evaluation.md). On the log scale a large share is compressed, and the floor keeps
// differences among near-empty bins (under 1 % of the image, about 6 of the 576 8 x 8
// blocks of a 192 px input) from counting as large ones.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace cxr {

inline constexpr int kImageStatistics = 36;
inline constexpr int kStatisticsBlock = 8;
inline constexpr double kFlatImageSd = 1e-8;
inline constexpr int kSharesBegin = 2, kSharesEnd = 35;  // the three histograms' shares
inline constexpr double kShareFloor = 1e-2;

// Appends the kImageStatistics values of the image x (row-major h x w, h, w >= 2).
void append_image_statistics(std::vector<double>& out, const double* x, std::int64_t h, std::int64_t w);

// Rows of kImageStatistics values (any number of rows) with every share s replaced
// by log10(s + kShareFloor); the other statistics unchanged.
std::vector<double> log_shares(std::span<const double> statistics);

}  // namespace cxr
