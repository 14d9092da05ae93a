#include "engine/data/jpeg_tables.h"

#include <fmt/format.h>

#include <array>

namespace cxr::data {

namespace {

constexpr std::uint8_t kDht = 0xc4, kSos = 0xda, kEoi = 0xd9, kSoi = 0xd8, kTem = 0x01;

bool is_restart(std::uint8_t marker) {
  return marker >= 0xd0 && marker <= 0xd7;
}

// One DHT segment: each table's class (0 DC, 1 AC) and id, its 16 code counts, then
// the symbols. Marks the tables it defines.
std::optional<std::string> read_tables(std::span<const std::uint8_t> segment, std::array<bool, 8>& defined) {
  std::size_t p = 0;
  while (p < segment.size()) {
    if (p + 17 > segment.size()) return "a Huffman table (DHT) ends inside its code counts";
    const int table_class = segment[p] >> 4, id = segment[p] & 15;
    if (table_class > 1 || id > 3) return fmt::format("Huffman table class {} id {} does not exist", table_class, id);
    int codes = 0;
    std::uint32_t code = 0;  // the next free code of the current length
    for (int length = 1; length <= 16; ++length) {
      const int count = segment[p + length];
      codes += count;
      code += count;
      if (code > (1u << length)) return fmt::format("Huffman table {}/{}: more codes than fit", table_class, id);
      code <<= 1;
    }
    if (codes > 256) return fmt::format("Huffman table {}/{}: {} codes, at most 256", table_class, id, codes);
    defined[table_class * 4 + id] = true;
    p += 17 + codes;
  }
  return std::nullopt;
}

// One SOS header: every component's DC table (used when the scan starts at
// coefficient 0) and AC table (used when it ends after 0) must be defined.
std::optional<std::string> check_scan(std::span<const std::uint8_t> segment, const std::array<bool, 8>& defined) {
  if (segment.empty()) return "an empty scan header (SOS)";
  const std::size_t components = segment[0];
  if (segment.size() < 1 + 2 * components + 3) return "a scan header (SOS) shorter than its components";
  const int first = segment[1 + 2 * components], last = segment[2 + 2 * components];
  for (std::size_t k = 0; k < components; ++k) {
    const int tables = segment[2 + 2 * k], dc = tables >> 4, ac = tables & 15;
    if (first == 0 && (dc > 3 || !defined[dc]))
      return fmt::format("a scan uses DC Huffman table {}, never defined", dc);
    if (last > 0 && (ac > 3 || !defined[4 + ac]))
      return fmt::format("a scan uses AC Huffman table {}, never defined", ac);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> jpeg_huffman_table_problem(std::span<const std::uint8_t> b) {
  if (b.size() < 2 || b[0] != 0xff || b[1] != kSoi) return std::nullopt;
  std::array<bool, 8> defined{};  // DC 0-3, then AC 0-3
  std::size_t i = 2;
  while (true) {
    while (i + 1 < b.size() && b[i] == 0xff && b[i + 1] == 0xff) ++i;  // fill bytes
    if (i + 2 > b.size()) return std::nullopt;
    if (b[i] != 0xff) return fmt::format("no JPEG marker at byte {}", i);
    const std::uint8_t marker = b[i + 1];
    if (marker == kEoi) return std::nullopt;
    if (marker == kTem || marker == kSoi || is_restart(marker)) {
      i += 2;
      continue;
    }
    if (i + 4 > b.size()) return std::nullopt;
    const std::size_t length = std::size_t{b[i + 2]} << 8 | b[i + 3];
    if (length < 2) return fmt::format("JPEG segment at byte {} has length {}", i, length);
    if (i + 2 + length > b.size()) return std::nullopt;
    const auto segment = b.subspan(i + 4, length - 2);
    if (marker == kDht) {
      if (auto problem = read_tables(segment, defined)) return problem;
    } else if (marker == kSos) {
      if (auto problem = check_scan(segment, defined)) return problem;
      // Past the entropy-coded data: to the next marker that is not a stuffed zero or
      // a restart (progressive files define more tables between their scans).
      i += 2 + length;
      while (i + 1 < b.size() && !(b[i] == 0xff && b[i + 1] != 0 && b[i + 1] != 0xff && !is_restart(b[i + 1]))) ++i;
      continue;
    }
    i += 2 + length;
  }
}

}  // namespace cxr::data
