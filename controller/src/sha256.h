// SHA-256 (FIPS 180-4) of a byte string, as 64 lower-case hex digits: the identity of an
// imported file (external_store.h). No project dependency provides a hash function.
#pragma once

#include <string>
#include <string_view>

namespace wattfleet {

std::string Sha256Hex(std::string_view bytes);

}  // namespace wattfleet
