// SHA-256 of a byte string, as 64 lower-case hex digits (libsodium's): the identity of an
// imported file and of a stored model's training data.
#pragma once

#include <string>
#include <string_view>

#include "wattfleet/common/status.h"

namespace wattfleet {

std::string Sha256Hex(std::string_view bytes);

// The same over bytes that arrive in parts (a file read or received piece by piece).
class Sha256Stream {
 public:
  Sha256Stream();
  void Update(std::string_view bytes);
  std::string HexDigest();  // once, after the last Update

 private:
  alignas(16) unsigned char state_[128];  // libsodium's crypto_hash_sha256_state (104 bytes)
};

// The file at `path`, read in parts; NotFound / IOError naming it.
Result<std::string> Sha256OfFile(const std::string& path);

}  // namespace wattfleet
