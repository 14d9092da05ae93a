#include "engine/data/cache_file.h"

#include "base/check.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace cxr::data {

static_assert(std::endian::native == std::endian::little, "the cache file format is little-endian");

namespace {

constexpr char kMagic[8] = {'C', 'X', 'R', 'I', 'M', 'G', 0, 0};
constexpr std::uint32_t kVersion = 1;

struct Header {
  char magic[8];
  std::uint32_t version;
  std::uint32_t header_bytes;
  std::uint64_t count;
  std::uint32_t size;
  std::uint32_t channels;
  std::uint32_t num_classes;
  float mean;
  float stddev;
  std::uint8_t reserved[20];
};
static_assert(sizeof(Header) == 64);

}  // namespace

struct CacheWriter::Impl {
  std::FILE* file = nullptr;
  std::filesystem::path path;
  CacheInfo info;
  std::uint64_t written = 0;
};

CacheWriter::CacheWriter(const std::filesystem::path& path, const CacheInfo& info) : impl_(new Impl) {
  CXR_CHECK(info.size > 0 && (info.num_classes == 3 || info.num_classes == 4), "cache: bad size {} or class count {}",
            info.size, info.num_classes);
  impl_->path = path;
  impl_->info = info;
  impl_->file = std::fopen(path.c_str(), "wb");
  CXR_CHECK(impl_->file, "cache: cannot create {}: {}", path.string(), std::strerror(errno));
  Header h{};
  std::memcpy(h.magic, kMagic, 8);
  h.version = kVersion;
  h.header_bytes = sizeof(Header);
  h.count = info.count;
  h.size = static_cast<std::uint32_t>(info.size);
  h.channels = 1;
  h.num_classes = static_cast<std::uint32_t>(info.num_classes);
  h.mean = info.mean;
  h.stddev = info.stddev;
  CXR_CHECK(std::fwrite(&h, sizeof h, 1, impl_->file) == 1, "cache: cannot write {}", path.string());
}

CacheWriter::~CacheWriter() {
  if (impl_->file) std::fclose(impl_->file);
}

void CacheWriter::write(const std::uint8_t* pixels) {
  CXR_CHECK(impl_->file && impl_->written < impl_->info.count, "cache: more images than the header's {}",
            impl_->info.count);
  const std::size_t n = static_cast<std::size_t>(impl_->info.size) * impl_->info.size;
  CXR_CHECK(std::fwrite(pixels, 1, n, impl_->file) == n, "cache: cannot write {}: {}", impl_->path.string(),
            std::strerror(errno));
  ++impl_->written;
}

void CacheWriter::close() {
  CXR_CHECK(impl_->written == impl_->info.count, "cache: {} images written, the header says {}", impl_->written,
            impl_->info.count);
  const int rc = std::fclose(impl_->file);
  impl_->file = nullptr;
  CXR_CHECK(rc == 0, "cache: cannot finish {}: {}", impl_->path.string(), std::strerror(errno));
}

std::shared_ptr<const CacheFile> CacheFile::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  CXR_CHECK(fd >= 0, "cache: cannot open {}: {}", path.string(), std::strerror(errno));
  struct stat st {};
  const bool stat_ok = ::fstat(fd, &st) == 0;
  const auto bytes = static_cast<std::size_t>(st.st_size);
  if (!stat_ok || bytes < sizeof(Header)) {
    ::close(fd);
    throw Error(fmt::format("cache: {} is too short to be a cache file", path.string()));
  }
  void* map = ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);  // the mapping stays valid
  CXR_CHECK(map != MAP_FAILED, "cache: cannot map {}: {}", path.string(), std::strerror(errno));

  std::shared_ptr<CacheFile> cache(new CacheFile);
  cache->map_ = static_cast<const std::uint8_t*>(map);
  cache->map_bytes_ = bytes;
  Header h;
  std::memcpy(&h, map, sizeof h);
  CXR_CHECK(std::memcmp(h.magic, kMagic, 8) == 0, "cache: {} is not a CXR image cache (bad magic)", path.string());
  CXR_CHECK(h.version == kVersion, "cache: {} has format version {}, this build reads {}", path.string(), h.version,
            kVersion);
  CXR_CHECK(
      h.header_bytes == sizeof(Header) && h.channels == 1 && h.size > 0 && (h.num_classes == 3 || h.num_classes == 4),
      "cache: {} has an invalid header (header {} B, {} channels, size {}, {} classes)", path.string(), h.header_bytes,
      h.channels, h.size, h.num_classes);
  cache->image_bytes_ = static_cast<std::size_t>(h.size) * h.size;
  const std::size_t body = bytes - sizeof(Header);
  CXR_CHECK(body % cache->image_bytes_ == 0 && body / cache->image_bytes_ == h.count,
            "cache: {} holds {} bytes of pixels, its header says {} images of {}x{} (truncated?)", path.string(), body,
            h.count, h.size, h.size);
  cache->info_ = {h.count, static_cast<int>(h.size), static_cast<int>(h.num_classes), h.mean, h.stddev};
  return cache;
}

CacheFile::~CacheFile() {
  if (map_) ::munmap(const_cast<std::uint8_t*>(map_), map_bytes_);
}

const std::uint8_t* CacheFile::image(std::uint64_t i) const {
  CXR_CHECK(i < info_.count, "cache: image {} out of range ({} images)", i, info_.count);
  return map_ + sizeof(Header) + i * image_bytes_;
}

}  // namespace cxr::data
