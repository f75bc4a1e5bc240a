// Small text helpers every target needs alike: trimming, and for messages about user input,
// typo suggestions, lists and strict number parsing (the whole string must be the number).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wattfleet {

// `s` without leading and trailing white space (space, tab, line ends, form feed, vertical tab).
std::string Trim(std::string_view s);

// Levenshtein distance.
size_t EditDistance(std::string_view a, std::string_view b);
// " (did you mean 'x'?)" when one candidate is close enough to be a plausible typo, else "".
std::string Suggestion(const std::string& word, const std::vector<std::string>& candidates);
// "1 agent", "2 agents", "0 agents": `n` and the noun, with an "s" unless n is 1.
std::string Count(int64_t n, std::string_view noun);
// "a, b, c".
std::string Join(const std::vector<std::string>& items);
// The whole string as a base-10 integer, or nullopt (no trailing junk, no overflow).
std::optional<int64_t> ParseInt(const std::string& s);
// The whole string as a finite double in decimal notation (no hexadecimal, inf or nan), or
// nullopt.
std::optional<double> ParseDouble(const std::string& s);
// Bytes as lower-case hex digits, two per byte, and back: nullopt for an odd length or a
// character that is not a hex digit.
std::string HexOf(std::string_view bytes);
std::optional<std::string> BytesOfHex(std::string_view hex);
// A Unix time in milliseconds as UTC text in strftime's `format` ("%Y-%m-%d").
std::string UtcText(int64_t unix_ms, const char* format);

}  // namespace wattfleet
