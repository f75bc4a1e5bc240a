#include "wattfleet/common/sha256.h"

#include <sodium.h>

#include <array>
#include <cstring>
#include <fstream>

namespace wattfleet {
namespace {

static_assert(sizeof(crypto_hash_sha256_state) <= 128, "Sha256Stream's state is too small");

std::string Hex(const std::array<unsigned char, crypto_hash_sha256_BYTES>& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * digest.size());
  for (unsigned char b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

// libsodium asks for sodium_init() before any other call; it is idempotent and thread-safe.
void InitOnce() {
  static const int init = sodium_init();
  (void)init;
}

crypto_hash_sha256_state* State(unsigned char* bytes) {
  return reinterpret_cast<crypto_hash_sha256_state*>(bytes);
}

}  // namespace

std::string Sha256Hex(std::string_view bytes) {
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  InitOnce();
  crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(bytes.data()),
                     bytes.size());
  return Hex(digest);
}

Sha256Stream::Sha256Stream() {
  InitOnce();
  std::memset(state_, 0, sizeof state_);
  crypto_hash_sha256_init(State(state_));
}

void Sha256Stream::Update(std::string_view bytes) {
  crypto_hash_sha256_update(State(state_), reinterpret_cast<const unsigned char*>(bytes.data()),
                            bytes.size());
}

std::string Sha256Stream::HexDigest() {
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256_final(State(state_), digest.data());
  return Hex(digest);
}

Result<std::string> Sha256OfFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open " + path);
  Sha256Stream hash;
  std::string buffer(1 << 20, '\0');
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    hash.Update(std::string_view(buffer.data(), static_cast<size_t>(in.gcount())));
  }
  if (in.bad()) return Status::IOError("cannot read " + path);
  return hash.HexDigest();
}

}  // namespace wattfleet
