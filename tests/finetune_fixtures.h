// Fine-tuning fixtures: a synthetic 4-class task (noisy stripes whose orientation
// is the class, learnable by a tiny CNN in a few hundred images) as a built dataset
// directory and as single pictures, and a tiny 4-class model to start from.
#pragma once

#include "data/labels.h"
#include "data/manifest.h"
#include "engine/data/cache_file.h"
#include "engine/random.h"
#include "models/model_file.h"
#include "models/presets.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <vector>

namespace cxr::test {

// size x size grey stripes: horizontal, vertical and the two diagonals for labels 0..3.
inline std::vector<std::uint8_t> stripes(int size, int label, Generator& gen) {
  constexpr double kPi = 3.141592653589793;
  const double period = gen.uniform(4, 7), phase = gen.uniform(0, 2 * kPi), contrast = gen.uniform(50, 90);
  const double ux = label == 0 ? 0 : label == 1 ? 1 : std::sqrt(0.5);
  const double uy = label == 0 ? 1 : label == 1 ? 0 : label == 2 ? std::sqrt(0.5) : -std::sqrt(0.5);
  std::vector<std::uint8_t> px(static_cast<std::size_t>(size) * size);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      const double wave = std::sin(2 * kPi * (ux * x + uy * y) / period + phase);
      px[static_cast<std::size_t>(y) * size + x] =
          static_cast<std::uint8_t>(std::clamp(128 + contrast * wave + 15 * gen.normal(), 0.0, 255.0));
    }
  return px;
}

struct SplitSizes {
  int train = 0, val = 0, test = 0;
};

// A built dataset directory (cache.bin + manifest.csv) of the 4-class stripes task,
// one patient per image, labels cycling 0..3 so every split holds every class.
inline void write_stripes_dataset(const std::filesystem::path& dir, int size, SplitSizes n, std::uint64_t seed) {
  std::filesystem::create_directories(dir);
  Generator gen(seed);
  const int total = n.train + n.val + n.test;
  data::CacheWriter cache(dir / "cache.bin", {static_cast<std::uint64_t>(total), size, 4, 0.5f, 0.25f});
  std::vector<data::ManifestRow> rows;
  for (int i = 0; i < total; ++i) {
    const int label = i % 4;
    cache.write(stripes(size, label, gen).data());
    const data::Split split = i < n.train           ? data::Split::train
                              : i < n.train + n.val ? data::Split::val
                                                    : data::Split::test;
    rows.push_back({i, data::Source::kermany, fmt::format("s{}.png", i), fmt::format("kermany:s{}", i), label, split,
                    "PA", std::string(64, '0')});
  }
  cache.close();
  data::write_manifest(dir / "manifest.csv", rows, 4);
}

// A narrowed 4-class network for size x size inputs (the stripes task's classes
// under the dataset's names), initialised from `seed`.
inline LoadedModel tiny_four_class_model(int size, std::uint64_t seed) {
  LoadedModel m;
  m.info.preset = "test-tiny";
  m.info.config = NetConfig::cxr_small(4).narrowed(0.125);
  m.info.config.blocks.resize(4);
  m.info.config.input_size = size;
  m.info.class_names = data::class_names(4);
  m.info.mean = 0.5f;
  m.info.stddev = 0.25f;
  m.net = make_net(m.info.config, seed);
  m.params = std::make_unique<ParameterSet>(*m.net, seed);
  m.net->eval();
  return m;
}

}  // namespace cxr::test
