// A DCGAN (Radford et al. 2016) for grey chest X-rays, on the engine's ops.
//
//   generator      z [N, latent] -> linear -> [N, g(0), 4, 4] -> BN, ReLU
//                  stage i = 1..k: bilinear 2x upsampling, 3x3 conv g(i-1) -> g(i), BN, ReLU
//                  3x3 conv g(k) -> 1 (with bias), tanh              -> [N, 1, S, S] in (-1, 1)
//   discriminator  x [N, 1, S, S] -> stage i = 1..k: 4x4 conv stride 2 d(i-1) -> d(i)
//                  (BN from the second stage on), leaky ReLU 0.2 -> flatten -> linear -> logit [N, 1]
//
// S = 4 * 2^k. Upsampling + convolution instead of a transposed convolution avoids
// its checkerboard artefacts (Odena et al. 2016, "Deconvolution and Checkerboard
// Artifacts"). Widths halve (generator) or double (discriminator) per stage from
// the configured base, capped at 256 channels.
#pragma once

#include "engine/nn/layers.h"

#include <vector>

namespace cxr {

struct GanConfig {
  int image_size = 64;           // S: 4 * 2^k, k >= 1
  int latent = 64;               // z's length
  int generator_width = 8;       // g(k), the last stage's channels; g(i) = g(k) * 2^(k-i)
  int discriminator_width = 16;  // d(1); d(i) = d(1) * 2^(i-1)
  int stages() const;            // k (throws cxr::Error unless image_size = 4 * 2^k, k >= 1)
  void check() const;            // every field in range, or cxr::Error saying which
};

class GanGenerator : public Module {
 public:
  explicit GanGenerator(const GanConfig& config);
  Tensor forward(const Tensor& z);  // [N, latent] -> [N, 1, S, S]

 private:
  GanConfig config_;
  Linear& project_;
  BatchNorm2d& project_bn_;
  std::vector<Conv2d*> convs_;
  std::vector<BatchNorm2d*> bns_;
  Conv2d* to_image_ = nullptr;
};

class GanDiscriminator : public Module {
 public:
  explicit GanDiscriminator(const GanConfig& config);
  Tensor forward(const Tensor& x);  // [N, 1, S, S] -> logits [N, 1]

 private:
  std::vector<Conv2d*> convs_;
  std::vector<BatchNorm2d*> bns_;  // none for the first stage
  Linear* classify_ = nullptr;
};

}  // namespace cxr
