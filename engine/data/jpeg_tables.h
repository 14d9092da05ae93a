// Checks of a JPEG's Huffman tables before stb_image decodes it. Debian's stb_image
// (git 2022-09-08) decodes a scan with a Huffman table the file never defined from
// uninitialised memory and reads far out of bounds (a 548-byte file made it crash,
// found by fuzzing). The JPEG standard (ITU-T T.81, B.2.4.2 and B.2.3) requires every
// table a scan uses to be defined before the scan, at most 256 codes per table, and
// code lengths that fit the code space; libjpeg refuses such files the same way.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace cxr::data {

// Why the file's Huffman tables cannot be decoded safely, or nothing: for files that
// are not JPEG, valid tables, or a file that ends early (left to the decoder, which
// reports a truncated file itself).
std::optional<std::string> jpeg_huffman_table_problem(std::span<const std::uint8_t> bytes);

}  // namespace cxr::data
