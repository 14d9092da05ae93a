// The files of a dataset directory, written in one place for `cxr data build`
// (data/build.h) and the web app's fine-tune jobs (server/jobs.cpp):
//
//   dir/cache.bin     the images, size x size grey uint8, in row order (cache_file.h)
//   dir/manifest.csv  one row per image (manifest.h)
//   dir/stats.json    what the build did (stats.h); at least {"settings": {"fit": ...}}
#pragma once

#include "data/manifest.h"
#include "engine/data/cache_file.h"

#include <boost/json/object.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <vector>

namespace cxr::data {

// `pixels(k)` gives row k's image (cache.size^2 bytes); cache.count must be rows.size().
// Throws cxr::Error on I/O errors.
void write_dataset(const std::filesystem::path& dir, const std::vector<ManifestRow>& rows, const CacheInfo& cache,
                   const std::function<const std::uint8_t*(std::size_t row)>& pixels, const boost::json::object& stats);

}  // namespace cxr::data
