// Chest X-rays with lung-field masks for the lung segmenter: the ieee8023 images that
// have a lungVAE mask (annotations/lungVAE-masks/<stem>_mask.png, four of them
// <stem>_mask.png.png; 209 masks predicted by lungVAE (Selvan et al. 2020), not drawn
// by hand), split by patient.
//
// The split follows the classifier's: a mask image whose patient is in a built
// dataset's manifest goes to that patient's split there, so no classifier test
// patient is ever trained on by the segmenter; the remaining patients (images the
// classifier build left out: lateral views, findings outside its classes) are dealt
// by data::assign_splits with the given fractions and seed. Patients that share an
// image stay together.
//
// A mask is at its own resolution; it is resized to the image by nearest neighbour
// and thresholded at half (lungs = 1). Images are kept grey at their own size; the
// segmenter stretches them to its square (models/seg_data.h).
#pragma once

#include "data/manifest.h"
#include "data/split.h"
#include "models/seg_data.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace cxr {

struct LungMaskPair {
  std::string id;       // the image file's stem
  std::string patient;  // "ieee8023:<patientid>", as in a manifest
  std::filesystem::path image, mask;
  data::Split split = data::Split::train;
};

struct LungMaskPairs {
  std::vector<LungMaskPair> pairs;    // in increasing id
  std::vector<std::string> no_image;  // mask ids without a metadata.csv row or image file
};

// The mask files under covid_dir with their images and patients (metadata.csv). The
// snapshot's masks include a few images it does not hold; those are listed in
// no_image, not guessed. `classifier` may be empty (then every patient is dealt by
// the fractions).
LungMaskPairs find_lung_mask_pairs(const std::filesystem::path& covid_dir,
                                   const std::vector<data::ManifestRow>& classifier,
                                   const data::SplitFractions& fractions, std::uint64_t seed);

// The image and its mask as a slice for the lung_fields task (labels 0 or 1).
SegSlice load_lung_slice(const LungMaskPair& pair);

// A nearest-neighbour resize of a mask to width x height, 1 where the mask is >= 128.
std::vector<std::uint8_t> resize_mask(const data::GreyImage& mask, int width, int height);

}  // namespace cxr
