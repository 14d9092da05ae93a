// SHA-256 (FIPS 180-4) through OpenSSL's libcrypto (SHA-NI where the CPU has it):
// the manifest's file checksums, the exact-duplicate test on decoded pixels, and the
// model files a sidecar (OOD gate, lung segmenter) is tied to.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace cxr::data {

using Digest = std::array<std::uint8_t, 32>;

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::span<const std::uint8_t> bytes);
  Digest finish();  // the hasher is spent afterwards

 private:
  EVP_MD_CTX* ctx_;
};

Digest sha256(std::span<const std::uint8_t> bytes);
std::string to_hex(const Digest& d);
// The file's digest in hex, read in 64 KiB pieces; a cxr::Error when it cannot be read.
std::string file_sha256(const std::string& path);

}  // namespace cxr::data
