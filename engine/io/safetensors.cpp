#include "engine/io/safetensors.h"

#include <boost/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <optional>

namespace cxr {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; a big-endian host would need byte swaps");

namespace json = boost::json;

namespace {

constexpr const char* kSupportedDTypes = "F32, F64";

std::string errno_text() {
  return std::strerror(errno);
}

// Closes a POSIX file descriptor on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Reads exactly `n` bytes at `offset`; false on a short read (file changed under us).
bool read_at(int fd, void* dst, std::uint64_t n, std::uint64_t offset) {
  auto* p = static_cast<char*>(dst);
  while (n > 0) {
    const ssize_t got = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    p += got;
    n -= static_cast<std::uint64_t>(got);
    offset += static_cast<std::uint64_t>(got);
  }
  return true;
}

bool write_all(int fd, const void* src, std::size_t n) {
  const auto* p = static_cast<const char*>(src);
  while (n > 0) {
    const ssize_t put = ::write(fd, p, n);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return false;
    p += put;
    n -= static_cast<std::size_t>(put);
  }
  return true;
}

// One tensor entry of the header, checked against itself (not yet against the file).
struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  std::uint64_t begin, end;
};

// Parses header entries with every error prefixed by "safetensors file '<path>': ".
class HeaderParser {
 public:
  explicit HeaderParser(const std::string& path) : path_(path) {}

  template <class... Args>
  [[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) const {
    throw Error(fmt::format("safetensors file '{}': {}", path_, fmt::format(f, std::forward<Args>(args)...)));
  }

  // A JSON integer >= 0 that fits in a u64; `what` names the field in errors.
  std::uint64_t to_u64(const json::value& v, const std::string& what) const {
    if (v.is_uint64()) return v.get_uint64();
    if (v.is_int64()) {
      if (v.get_int64() < 0) fail("{} is negative ({})", what, v.get_int64());
      return static_cast<std::uint64_t>(v.get_int64());
    }
    fail("{} must be a non-negative integer, got {}", what, json::serialize(v));
  }

  const json::value& field(const json::object& entry, const std::string& name, const char* key) const {
    const json::value* v = entry.if_contains(key);
    if (v == nullptr) fail("tensor '{}' has no \"{}\"", name, key);
    return *v;
  }

  DType parse_dtype(const json::value& v, const std::string& name) const {
    if (!v.is_string()) fail("tensor '{}': \"dtype\" must be a string, got {}", name, json::serialize(v));
    const json::string& s = v.get_string();
    if (s == "F32") return DType::F32;
    if (s == "F64") return DType::F64;
    fail("tensor '{}' has dtype \"{}\", which CXR does not support (supported: {})", name, std::string_view(s),
         kSupportedDTypes);
  }

  Shape parse_shape(const json::value& v, const std::string& name) const {
    if (!v.is_array()) fail("tensor '{}': \"shape\" must be an array, got {}", name, json::serialize(v));
    Shape shape;
    for (const auto& d : v.get_array()) {
      const std::uint64_t extent = to_u64(d, fmt::format("an extent in the shape of tensor '{}'", name));
      if (extent > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        fail("tensor '{}': shape {} overflows", name, json::serialize(v));
      shape.push_back(static_cast<std::int64_t>(extent));
    }
    return shape;
  }

  // numel(shape) * dtype size, or an error when that overflows 64 bits.
  std::uint64_t byte_size(const Entry& e) const {
    std::uint64_t n = dtype_size(e.dtype);
    for (auto d : e.shape) {
      if (__builtin_mul_overflow(n, static_cast<std::uint64_t>(d), &n))
        fail("tensor '{}': shape {} overflows", e.name, shape_str(e.shape));
    }
    return n;
  }

  Entry parse_entry(const std::string& name, const json::value& v) const {
    if (!v.is_object()) fail("tensor '{}' must be a JSON object, got {}", name, json::serialize(v));
    const json::object& obj = v.get_object();
    Entry e{name, parse_dtype(field(obj, name, "dtype"), name), parse_shape(field(obj, name, "shape"), name), 0, 0};
    const json::value& offsets = field(obj, name, "data_offsets");
    if (!offsets.is_array() || offsets.get_array().size() != 2)
      fail("tensor '{}': \"data_offsets\" must be an array [begin, end], got {}", name, json::serialize(offsets));
    e.begin = to_u64(offsets.get_array()[0], fmt::format("data_offsets[0] of tensor '{}'", name));
    e.end = to_u64(offsets.get_array()[1], fmt::format("data_offsets[1] of tensor '{}'", name));
    if (e.begin > e.end) fail("tensor '{}': data_offsets [{}, {}] begin after they end", name, e.begin, e.end);
    const std::uint64_t expected = byte_size(e);
    if (e.end - e.begin != expected)
      fail("tensor '{}': data_offsets [{}, {}] span {} bytes, but {}{} needs {}", name, e.begin, e.end, e.end - e.begin,
           dtype_name(e.dtype), shape_str(e.shape), expected);
    return e;
  }

  std::map<std::string, std::string> parse_metadata(const json::value& v) const {
    if (!v.is_object()) fail("\"__metadata__\" must be an object, got {}", json::serialize(v));
    std::map<std::string, std::string> out;
    for (const auto& [key, value] : v.get_object()) {
      if (!value.is_string())
        fail("\"__metadata__\" value of \"{}\" must be a string, got {}", std::string_view(key),
             json::serialize(value));
      out.emplace(key, value.get_string());
    }
    return out;
  }

  // The tensors must tile [0, data_bytes) exactly: sorted by offset, each one
  // starts where the previous ended, and the last ends at the end of the file.
  void check_layout(std::vector<Entry>& entries, std::uint64_t data_bytes) const {
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
    std::uint64_t covered = 0;
    const Entry* previous = nullptr;
    for (const Entry& e : entries) {
      if (e.begin < covered)
        fail("tensors '{}' [{}, {}] and '{}' [{}, {}] overlap", previous->name, previous->begin, previous->end, e.name,
             e.begin, e.end);
      if (e.begin > covered)
        fail("data bytes [{}, {}) before tensor '{}' belong to no tensor", covered, e.begin, e.name);
      covered = e.end;
      previous = &e;
    }
    if (covered > data_bytes)
      fail(
          "data section is truncated or its offsets are out of range: tensor '{}' ends at byte {}, "
          "but the file holds only {} bytes of data",
          previous->name, covered, data_bytes);
    if (covered < data_bytes) fail("the data section has {} bytes, but the tensors cover only {}", data_bytes, covered);
  }

 private:
  const std::string& path_;
};

}  // namespace

const Tensor& SafetensorsFile::at(const std::string& name) const {
  auto it = tensors.find(name);
  CXR_CHECK(it != tensors.end(), "safetensors file '{}' has no tensor '{}'", path, name);
  return it->second;
}

SafetensorsFile load_safetensors(const std::string& path) {
  HeaderParser parser(path);
  Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) {
    if (errno == ENOENT) parser.fail("no such file");
    parser.fail("cannot open: {}", errno_text());
  }
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) parser.fail("cannot stat: {}", errno_text());
  if (!S_ISREG(st.st_mode)) parser.fail("not a regular file");
  const auto file_bytes = static_cast<std::uint64_t>(st.st_size);

  if (file_bytes < 8) parser.fail("the file has {} bytes, fewer than the 8-byte header length", file_bytes);
  unsigned char length_bytes[8];
  if (!read_at(file.fd, length_bytes, 8, 0)) parser.fail("cannot read the header length");
  std::uint64_t header_bytes = 0;
  for (int i = 7; i >= 0; --i) header_bytes = header_bytes << 8 | length_bytes[i];
  if (header_bytes > kSafetensorsMaxHeaderBytes)
    parser.fail("header length {} exceeds the limit of {} bytes", header_bytes, kSafetensorsMaxHeaderBytes);
  if (header_bytes > file_bytes - 8)
    parser.fail("header length {} is larger than the {} bytes that follow it", header_bytes, file_bytes - 8);

  std::string header(header_bytes, '\0');
  if (!read_at(file.fd, header.data(), header_bytes, 8)) parser.fail("cannot read the header");
  boost::system::error_code ec;
  const json::value root = json::parse(header, ec);
  if (ec) parser.fail("header is not valid JSON: {}", ec.message());
  if (!root.is_object()) parser.fail("header is not a JSON object");

  SafetensorsFile out;
  out.path = path;
  std::vector<Entry> entries;
  for (const auto& [key, value] : root.get_object()) {
    if (key == "__metadata__") {
      out.metadata = parser.parse_metadata(value);
    } else {
      entries.push_back(parser.parse_entry(std::string(key), value));
    }
  }
  const std::uint64_t data_start = 8 + header_bytes;
  parser.check_layout(entries, file_bytes - data_start);

  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (!read_at(file.fd, t.storage()->data(), e.end - e.begin, data_start + e.begin))
      parser.fail("cannot read the data of tensor '{}' (did the file change?)", e.name);
    out.tensors.emplace(e.name, std::move(t));
  }
  return out;
}

namespace {

// Removes the temporary file unless the save completed.
struct TempFile {
  std::string path;
  bool committed = false;
  ~TempFile() {
    if (!committed) ::unlink(path.c_str());
  }
};

}  // namespace

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  auto fail = [&path](const std::string& what) {
    throw Error(fmt::format("save_safetensors '{}': {}", path, what));
  };

  json::object header;
  if (!metadata.empty()) {
    json::object m;
    for (const auto& [k, v] : metadata) m[k] = v;
    header["__metadata__"] = std::move(m);
  }
  std::vector<Tensor> data;
  std::uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name == "__metadata__") fail("\"__metadata__\" is reserved and cannot name a tensor");
    if (header.contains(name)) fail(fmt::format("tensor name '{}' appears twice", name));
    if (!tensor.defined()) fail(fmt::format("tensor '{}' is undefined", name));
    if (!tensor.device().is_cpu()) fail(fmt::format("tensor '{}' is {}; move it to the cpu first", name, tensor.str()));
    const Tensor t = tensor.contiguous();
    const std::uint64_t bytes = static_cast<std::uint64_t>(t.numel()) * dtype_size(t.dtype());
    json::array shape;
    for (auto d : t.shape()) shape.push_back(d);
    json::object entry;
    entry["dtype"] = t.dtype() == DType::F32 ? "F32" : "F64";
    entry["shape"] = std::move(shape);
    entry["data_offsets"] = json::array{offset, offset + bytes};
    header[name] = std::move(entry);
    offset += bytes;
    data.push_back(t);
  }
  std::string header_text = json::serialize(header);
  header_text.resize((header_text.size() + 7) / 8 * 8, ' ');  // data starts 8-byte aligned
  unsigned char length_bytes[8];
  for (int i = 0; i < 8; ++i) length_bytes[i] = static_cast<unsigned char>(header_text.size() >> (8 * i));

  TempFile tmp{fmt::format("{}.tmp-{}", path, ::getpid())};
  {
    Fd out{::open(tmp.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
    if (out.fd < 0) fail(fmt::format("cannot create '{}': {}", tmp.path, errno_text()));
    bool ok = write_all(out.fd, length_bytes, 8) && write_all(out.fd, header_text.data(), header_text.size());
    for (const Tensor& t : data) {
      if (!ok) break;
      ok = write_all(out.fd, static_cast<const char*>(t.storage()->data()) + t.offset() * dtype_size(t.dtype()),
                     static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype()));
    }
    if (!ok) fail(fmt::format("writing '{}' failed: {}", tmp.path, errno_text()));
    if (::fsync(out.fd) != 0) fail(fmt::format("fsync of '{}' failed: {}", tmp.path, errno_text()));
    const int fd = out.fd;
    out.fd = -1;
    if (::close(fd) != 0) fail(fmt::format("closing '{}' failed: {}", tmp.path, errno_text()));
  }
  if (::rename(tmp.path.c_str(), path.c_str()) != 0)
    fail(fmt::format("renaming '{}' to it failed: {}", tmp.path, errno_text()));
  tmp.committed = true;
}

}  // namespace cxr
