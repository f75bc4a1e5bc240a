// An enum's names as one table of (value, name) pairs, read both ways: the name written to
// the dataset, the wire and the CLI, and the value parsed back from it.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>

namespace wattfleet {

template <typename E, size_t N>
using EnumNames = std::array<std::pair<E, std::string_view>, N>;

// `e`'s name in `table`; "unknown" for a value without one.
template <typename E, size_t N>
constexpr std::string_view NameIn(const EnumNames<E, N>& table, E e) {
  for (const auto& [v, name] : table) {
    if (v == e) return name;
  }
  return "unknown";
}

// The value named `name` in `table`; none for a name it does not hold.
template <typename E, size_t N>
constexpr std::optional<E> ParseIn(const EnumNames<E, N>& table, std::string_view name) {
  for (const auto& [v, n] : table) {
    if (n == name) return v;
  }
  return std::nullopt;
}

}  // namespace wattfleet
