#include "wattfleet/common/sha256.h"

#include <sodium.h>

#include <array>

namespace wattfleet {

std::string Sha256Hex(std::string_view bytes) {
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  // libsodium asks for sodium_init() before any other call; it is idempotent and thread-safe.
  static const int init = sodium_init();
  (void)init;
  crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(bytes.data()),
                     bytes.size());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * digest.size());
  for (unsigned char b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

}  // namespace wattfleet
