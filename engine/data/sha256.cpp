#include "engine/data/sha256.h"

#include "base/check.h"

#include <openssl/evp.h>

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

}  // namespace cxr::data
