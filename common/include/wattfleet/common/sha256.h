// SHA-256 of a byte string, as 64 lower-case hex digits (libsodium's): the identity of an
// imported file and of a stored model's training data.
#pragma once

#include <string>
#include <string_view>

namespace wattfleet {

std::string Sha256Hex(std::string_view bytes);

}  // namespace wattfleet
