// Small text helpers every target needs alike.
#pragma once

#include <string>
#include <string_view>

namespace wattfleet {

// `s` without leading and trailing white space (space, tab, line ends, form feed, vertical tab).
std::string Trim(std::string_view s);

}  // namespace wattfleet
