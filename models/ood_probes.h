// Images that are plainly not chest X-rays, for measuring the out-of-distribution
// gate (models/ood_gate.h): what a careless or hostile user uploads. Each is a PNG,
// so it takes the same decode and preprocessing path as an upload.
//
//   colour_noise  uniform random RGB pixels         grey_noise  uniform random grey
//   blank         one flat grey level (0..255)      strip       8192 x 32, a ramp with noise
//   gradient      a linear ramp in a random direction
//   xor           (x XOR y) scaled to a random period   checker  a checkerboard of random cell size
// Sizes and parameters vary with the seed; the same seed gives the same bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cxr {

struct ProbeImage {
  std::string kind;  // one of ood_probe_kinds()
  std::string png;   // the encoded file
};

const std::vector<std::string>& ood_probe_kinds();

// `per_kind` images of every kind, in kind order.
std::vector<ProbeImage> ood_probe_images(int per_kind, std::uint64_t seed);

}  // namespace cxr
