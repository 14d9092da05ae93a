// A layer's feature maps as one picture: the channels of [C, h, w] tiled in a grid
// (row-major, channel 0 top left), each map enlarged by a whole factor so that small
// maps stay visible, with a 2-pixel dark grey gap between cells.
//
// One scale for the whole layer, so the channels compare with each other; its top
// is the kMontageTopPercentile-th percentile (nearest rank) of the drawn values, not
// their maximum, so that a few outliers do not leave every map nearly black:
//   magnitude      activations: black at the layer's minimum, white from that
//                  percentile up (after a ReLU the minimum is 0: black = did not fire)
//   signed_values  gradients: white at 0, red for positive and blue for negative
//                  values, full colour from that percentile of |value| up
// NaN and infinite values are magenta.
#pragma once

#include "engine/tensor.h"
#include "models/overlay.h"

namespace cxr {

enum class MontageColours { magnitude, signed_values };

// Cells are at least this many pixels a side (maps smaller than that are enlarged).
inline constexpr int kMontageMinCell = 24;
inline constexpr double kMontageTopPercentile = 99.5;

// maps: [C, h, w], any float dtype and device. Only the first `max_channels`
// channels are drawn (max_channels >= 1); the scale is taken over those.
RgbImage feature_montage(const Tensor& maps, MontageColours colours, int max_channels = 64);

}  // namespace cxr
