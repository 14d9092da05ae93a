#include "engine/data/sha256.h"

#include "base/check.h"

#include <openssl/evp.h>

#include <fstream>
#include <vector>

namespace cxr::data {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  CXR_CHECK(ctx_ && EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) == 1, "sha256: OpenSSL init failed");
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(ctx_);
}

void Sha256::update(std::span<const std::uint8_t> bytes) {
  CXR_CHECK(EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()) == 1, "sha256: OpenSSL update failed");
}

Digest Sha256::finish() {
  Digest d{};
  unsigned int n = 0;
  CXR_CHECK(EVP_DigestFinal_ex(ctx_, d.data(), &n) == 1 && n == d.size(), "sha256: OpenSSL final failed");
  return d;
}

Digest sha256(std::span<const std::uint8_t> bytes) {
  Sha256 h;
  h.update(bytes);
  return h.finish();
}

std::string to_hex(const Digest& d) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(64);
  for (std::uint8_t b : d) {
    s += kHex[b >> 4];
    s += kHex[b & 15];
  }
  return s;
}

std::string file_sha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  CXR_CHECK(in.good(), "cannot read '{}'", path);
  Sha256 hasher;
  std::vector<char> buffer(1 << 16);
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0)
    hasher.update({reinterpret_cast<const std::uint8_t*>(buffer.data()), static_cast<std::size_t>(in.gcount())});
  return to_hex(hasher.finish());
}

}  // namespace cxr::data
