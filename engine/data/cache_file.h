// The image cache: every preprocessed image of a dataset in one file that is
// memory-mapped, never decoded.
//
//   offset 0   header, 64 bytes, little-endian:
//     char     magic[8]      "CXRIMG\0\0"
//     uint32   version       1
//     uint32   header_bytes  64 (pixel data starts here; 64-byte aligned)
//     uint64   count         number of images
//     uint32   size          images are size x size
//     uint32   channels      1 (grey)
//     uint32   num_classes   3 or 4: the scheme (class and target names: data/labels.h)
//     float32  mean, std     of the train split's pixels scaled to [0, 1]
//     uint8    reserved[20]  zero
//   offset 64  count * channels * size * size uint8 pixels, image after image,
//              in manifest.csv order (row i is image i)
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>

namespace cxr::data {

struct CacheInfo {
  std::uint64_t count = 0;
  int size = 0;
  int num_classes = 0;
  float mean = 0.0f, stddev = 1.0f;
};

// Writes the header and then `write` image after image (each size*size bytes).
class CacheWriter {
 public:
  CacheWriter(const std::filesystem::path& path, const CacheInfo& info);
  ~CacheWriter();
  CacheWriter(const CacheWriter&) = delete;
  CacheWriter& operator=(const CacheWriter&) = delete;
  void write(const std::uint8_t* pixels);
  void close();  // checks that `count` images were written; throws on I/O errors

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A read-only memory map of a cache file; the header is validated on open.
class CacheFile {
 public:
  static std::shared_ptr<const CacheFile> open(const std::filesystem::path& path);
  ~CacheFile();
  CacheFile(const CacheFile&) = delete;
  CacheFile& operator=(const CacheFile&) = delete;

  const CacheInfo& info() const { return info_; }
  const std::uint8_t* image(std::uint64_t i) const;

 private:
  CacheFile() = default;
  CacheInfo info_;
  const std::uint8_t* map_ = nullptr;
  std::size_t map_bytes_ = 0;
  std::size_t image_bytes_ = 0;
};

}  // namespace cxr::data
