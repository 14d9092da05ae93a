// SHA-256 (FIPS 180-4): the manifest's file checksums and the exact-duplicate test
// on decoded pixels.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace cxr::data {

using Digest = std::array<std::uint8_t, 32>;

class Sha256 {
 public:
  Sha256();
  void update(std::span<const std::uint8_t> bytes);
  Digest finish();  // the hasher is spent afterwards

 private:
  void block(const std::uint8_t* p);
  std::array<std::uint32_t, 8> h_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t length_ = 0;  // bytes
};

Digest sha256(std::span<const std::uint8_t> bytes);
std::string to_hex(const Digest& d);

}  // namespace cxr::data
