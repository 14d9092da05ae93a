#include "models/seg_data.h"

#include "base/check.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numbers>

namespace cxr {

namespace {

std::vector<std::uint8_t> read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  CXR_CHECK(in.good(), "cannot read {}", path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Where output pixel (u, v) of the S x S square samples the source of width x height:
// the square's centred coordinates in [-1, 1], flipped, rotated, scaled and shifted,
// then stretched onto the source. Returns source pixel coordinates (centres at i + 0.5).
struct Warp {
  double cos_a, sin_a, inv_scale, shift_x, shift_y;
  bool flip;
  int size, width, height;
  Warp(const SegAugment& aug, int s, int w, int h)
      : cos_a(std::cos(aug.angle)),
        sin_a(std::sin(aug.angle)),
        inv_scale(1.0 / aug.scale),
        shift_x(aug.shift_x),
        shift_y(aug.shift_y),
        flip(aug.flip),
        size(s),
        width(w),
        height(h) {}
  void source(int u, int v, double& x, double& y) const {
    double a = (u + 0.5) / size * 2 - 1, b = (v + 0.5) / size * 2 - 1;
    if (flip) a = -a;
    const double ra = (cos_a * a - sin_a * b) * inv_scale + shift_x;
    const double rb = (sin_a * a + cos_a * b) * inv_scale + shift_y;
    x = (ra + 1) / 2 * width - 0.5;
    y = (rb + 1) / 2 * height - 0.5;
  }
};

}  // namespace

data::GreyImage read_grey_image(const std::filesystem::path& path) {
  const std::vector<std::uint8_t> bytes = read_bytes(path);
  data::DecodeResult decoded = data::decode_grey(bytes, data::DecodeLimits{});
  CXR_CHECK(decoded.ok(), "{}: {} ({})", path.string(), decoded.error, decoded.detail);
  return std::move(decoded.image);
}

int seg_class_count(SegTask task) {
  return task == SegTask::multiclass ? 2 : 1;
}

std::string seg_task_name(SegTask task) {
  switch (task) {
    case SegTask::infection: return "infection";
    case SegTask::multiclass: return "multiclass";
    case SegTask::lung_fields: return "lung-fields";
  }
  return "?";
}

SegTask parse_seg_task(const std::string& name) {
  if (name == "infection") return SegTask::infection;
  if (name == "multiclass") return SegTask::multiclass;
  if (name == "lung-fields") return SegTask::lung_fields;
  throw Error("unknown segmentation task '" + name +
              "' (expected infection or multiclass for CT slices, lung-fields for chest X-rays)");
}

std::vector<std::string> seg_class_names(SegTask task) {
  if (task == SegTask::infection) return {"infection"};
  if (task == SegTask::lung_fields) return {"lungs"};
  return {"ground-glass", "consolidation"};
}

bool seg_target(SegTask task, int channel, std::uint8_t label) {
  return task == SegTask::multiclass ? label == channel + 1 : label > 0;
}

std::vector<SegSlice> load_seg_split(const std::string& root, const std::string& split) {
  namespace fs = std::filesystem;
  const fs::path images = fs::path(root) / split / "images";
  CXR_CHECK(fs::is_directory(images), "{} is not a directory: expected the covid-ct-seg layout (<root>/{}/images)",
            images.string(), split);
  std::vector<std::pair<long, std::string>> ids;
  for (const auto& entry : fs::directory_iterator(images)) {
    if (entry.path().extension() != ".jpg") continue;
    const std::string stem = entry.path().stem().string();
    CXR_CHECK(!stem.empty() && std::all_of(stem.begin(), stem.end(), [](char c) { return c >= '0' && c <= '9'; }),
              "{}: expected numeric slice ids", entry.path().string());
    ids.emplace_back(std::stol(stem), stem);
  }
  CXR_CHECK(!ids.empty(), "{} holds no .jpg slices", images.string());
  std::sort(ids.begin(), ids.end());
  std::vector<SegSlice> slices;
  for (const auto& [number, id] : ids) {
    SegSlice s;
    s.id = id;
    s.image = read_grey_image(images / (id + ".jpg"));
    const data::GreyImage mask = read_grey_image(fs::path(root) / split / "multiclass" / (id + ".png"));
    CXR_CHECK(mask.width == s.image.width && mask.height == s.image.height, "slice {}: mask is {}x{}, image {}x{}", id,
              mask.width, mask.height, s.image.width, s.image.height);
    for (std::uint8_t v : mask.pixels)
      CXR_CHECK(v <= 2, "slice {}: multiclass label {} is not 0, 1 or 2", id, static_cast<int>(v));
    s.labels = mask.pixels;
    slices.push_back(std::move(s));
  }
  return slices;
}

SegAugment SegAugment::random(Generator& gen) {
  SegAugment a;
  a.angle = gen.uniform(-15, 15) * std::numbers::pi / 180;
  a.scale = gen.uniform(0.85, 1.15);
  a.shift_x = gen.uniform(-0.1, 0.1);
  a.shift_y = gen.uniform(-0.1, 0.1);
  a.flip = gen.uniform() < 0.5;
  a.contrast = gen.uniform(0.8, 1.2);
  a.brightness = gen.uniform(-0.1, 0.1);
  return a;
}

void render_seg_input(float* out, int size, const data::GreyImage& image, const SegAugment& aug) {
  const Warp warp(aug, size, image.width, image.height);
  const auto pixel = [&](int x, int y) -> double {
    if (x < 0 || y < 0 || x >= image.width || y >= image.height) return 0.0;  // black: air outside the body
    return image.pixels[static_cast<std::size_t>(y) * image.width + x] / 255.0;
  };
  for (int v = 0; v < size; ++v)
    for (int u = 0; u < size; ++u) {
      double x, y;
      warp.source(u, v, x, y);
      const int x0 = static_cast<int>(std::floor(x)), y0 = static_cast<int>(std::floor(y));
      const double fx = x - x0, fy = y - y0;
      const double grey = (1 - fy) * ((1 - fx) * pixel(x0, y0) + fx * pixel(x0 + 1, y0)) +
                          fy * ((1 - fx) * pixel(x0, y0 + 1) + fx * pixel(x0 + 1, y0 + 1));
      const double jittered = aug.contrast * (grey - 0.5) + 0.5 + aug.brightness;
      out[static_cast<std::size_t>(v) * size + u] = static_cast<float>((jittered - 0.5) / 0.25);
    }
}

void render_seg_targets(float* out, int size, SegTask task, const SegSlice& slice, const SegAugment& aug) {
  const Warp warp(aug, size, slice.image.width, slice.image.height);
  const int classes = seg_class_count(task);
  const std::size_t plane = static_cast<std::size_t>(size) * size;
  for (int v = 0; v < size; ++v)
    for (int u = 0; u < size; ++u) {
      double x, y;
      warp.source(u, v, x, y);
      const int xi = static_cast<int>(std::lround(x)), yi = static_cast<int>(std::lround(y));
      const bool inside = xi >= 0 && yi >= 0 && xi < slice.image.width && yi < slice.image.height;
      const std::uint8_t label =
          inside ? slice.labels[static_cast<std::size_t>(yi) * slice.image.width + xi] : std::uint8_t{0};
      for (int c = 0; c < classes; ++c)
        out[c * plane + static_cast<std::size_t>(v) * size + u] = seg_target(task, c, label) ? 1.0f : 0.0f;
    }
}

SegBatch make_seg_batch(const std::vector<SegSlice>& slices, const std::vector<std::size_t>& indices, int size,
                        SegTask task, Generator* augment_gen) {
  const auto B = static_cast<std::int64_t>(indices.size());
  const int classes = seg_class_count(task);
  SegBatch batch{Tensor::empty({B, 1, size, size}), Tensor::empty({B, classes, size, size})};
  const std::size_t plane = static_cast<std::size_t>(size) * size;
  for (std::int64_t b = 0; b < B; ++b) {
    const SegSlice& slice = slices.at(indices[b]);
    const SegAugment aug = augment_gen ? SegAugment::random(*augment_gen) : SegAugment::identity();
    render_seg_input(batch.x.data<float>() + b * plane, size, slice.image, aug);
    render_seg_targets(batch.targets.data<float>() + b * classes * plane, size, task, slice, aug);
  }
  return batch;
}

}  // namespace cxr
