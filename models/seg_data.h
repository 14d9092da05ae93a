// CT slices with infection labels (the covid-ct-seg folder: MedSeg's slices in the
// Inf-Net split, /work/shared/data/covid-ct-seg/README.md), their resampling to the
// network's square input and the augmentation of training.
//
// Geometry: a slice is stretched to S x S (slices are 0.7-1.4 times as wide as high;
// the network sees them stretched and its output is stretched back). Augmentation
// warps the square by a random rotation, scale, shift and left-right flip, the image
// bilinearly and the labels by nearest neighbour, and jitters contrast and brightness
// (the slices' display windows vary). No elastic or 90-degree moves: every slice has
// the same orientation.
#pragma once

#include "engine/data/image.h"
#include "engine/random.h"
#include "engine/tensor.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace cxr {

// Which labels the network learns: the binary infection mask (1 output channel),
// ground-glass opacity and consolidation (2 channels), or the lung fields of a chest
// X-ray (1 channel; models/lung_seg_data.h).
enum class SegTask { infection, multiclass, lung_fields };
int seg_class_count(SegTask task);
std::string seg_task_name(SegTask task);
SegTask parse_seg_task(const std::string& name);  // "infection", "multiclass", "lung-fields"; else a cxr::Error
// The names of the output channels: {"infection"}, {"ground-glass", "consolidation"} or {"lungs"}.
std::vector<std::string> seg_class_names(SegTask task);

// A JPEG or PNG file decoded to grey; a cxr::Error naming the file when it cannot be.
data::GreyImage read_grey_image(const std::filesystem::path& path);

struct SegSlice {
  std::string id;
  data::GreyImage image;
  std::vector<std::uint8_t> labels;  // per pixel: 0 background, 1 ground-glass, 2 consolidation
};

// The slices of `split` ("train" or "test") under root (root/<split>/images/<id>.jpg,
// root/<split>/multiclass/<id>.png), in increasing id. The binary infection mask of
// the dataset equals (multiclass > 0) on every pixel (checked when the copy was made),
// so the multi-class file serves both tasks.
std::vector<SegSlice> load_seg_split(const std::string& root, const std::string& split);

// Pixel value of class channel c (0-based) for a label: infection and lung fields:
// label > 0; multiclass: label == c + 1.
bool seg_target(SegTask task, int channel, std::uint8_t label);

// A random warp of the square and intensity jitter; identity() does nothing.
struct SegAugment {
  double angle = 0;                 // radians
  double scale = 1;                 // > 1 zooms in
  double shift_x = 0, shift_y = 0;  // fractions of the square's half side
  bool flip = false;
  double contrast = 1, brightness = 0;
  static SegAugment identity() { return {}; }
  static SegAugment random(Generator& gen);  // +-15 degrees, scale 0.85-1.15, shift +-10%, flip half the time
};

// The network input of one slice: S x S floats, (grey / 255 - 0.5) / 0.25, warped.
void render_seg_input(float* out, int size, const data::GreyImage& image, const SegAugment& aug);
// The targets of one slice: classes x S x S floats of 0 and 1, warped like the input.
void render_seg_targets(float* out, int size, SegTask task, const SegSlice& slice, const SegAugment& aug);

// A batch of the slices at `indices`: x [B, 1, S, S], targets [B, classes, S, S] (CPU).
struct SegBatch {
  Tensor x, targets;
};
SegBatch make_seg_batch(const std::vector<SegSlice>& slices, const std::vector<std::size_t>& indices, int size,
                        SegTask task, Generator* augment_gen);

}  // namespace cxr
