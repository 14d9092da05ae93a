// ROAD, RemOve And Debias (Rong et al. 2022, "A Consistent and Efficient Evaluation
// Strategy for Attribution Methods"): a faithfulness measure whose removed pixels do
// not leak the map's shape through their fill. A share q of the pixels is removed in
// the map's order and filled by noisy linear imputation: each removed pixel equals
// the weighted mean of its in-image 8-neighbours (weight 1/6 for the four direct
// ones, 1/12 for the diagonals, renormalised at the border), kept pixels fixed; then
// Gaussian noise of sd `noise` is added to the filled pixels.
//   MoRF: most relevant first (the map's hottest pixels go): the probability
//         should fall fast, low area is good.
//   LeRF: least relevant first: the probability should stay, high area is good.
// The linear system is solved by successive over-relaxation (omega 1.8) from a
// normalised-convolution start (a Gaussian blur of the kept pixels divided by the
// blur of the kept mask), until no pixel moves by more than `tolerance` or after
// `max_sweeps` sweeps. Both are what keeps ROAD fast enough for a 2-core CPU; the
// remaining error is far below the noise. One image [1, in, H, W], every channel
// imputed on its own.
#pragma once

#include "engine/random.h"
#include "engine/tensor.h"
#include "models/heatmap_eval.h"

#include <cstdint>
#include <vector>

namespace cxr {

struct RoadSettings {
  std::vector<double> fractions{0.1, 0.3, 0.5, 0.7, 0.9};  // shares of the pixels removed
  double noise = 0.01;  // sd of the imputation noise, in the normalised input's units
  double tolerance = 1e-4;
  int max_sweeps = 300;
};

struct RoadResult {
  std::vector<double> morf, lerf;       // the probability at each fraction
  double morf_area = 0, lerf_area = 0;  // their means over the fractions
};

// `removed` [H * W]: 1 where the pixel is removed. Returns the imputed image (noise added).
Tensor noisy_linear_imputation(const Tensor& image, const std::vector<std::uint8_t>& removed, double noise,
                               Generator& gen, double tolerance = 1e-4, int max_sweeps = 300);

// `order`: pixel indices by decreasing heat (heatmap_eval.h, order_by_heat). All the
// imputed images of a curve go through `score` as one batch.
RoadResult road(const ScoreFn& score, const Tensor& image, const std::vector<std::int64_t>& order,
                const RoadSettings& settings, Generator& gen);

}  // namespace cxr
