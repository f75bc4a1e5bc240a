// CSV reading for `wattfleet import`: RFC 4180 records with the physical line each starts on,
// for messages that name the line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "wattfleet/common/status.h"

namespace wattfleet {

// RFC 4180 CSV: comma separated, double quotes around fields with commas, quotes ("") or
// newlines. `line` is the physical line each record starts on, for messages.
struct CsvRecord {
  int64_t line = 0;
  std::vector<std::string> cells;
};

// The longest cell (names, numbers and shapes are far shorter), the most columns in a row,
// and the most cells in a file (a lab's per-layer CSV of a million rows of 20 columns fits).
inline constexpr size_t kMaxCsvCellBytes = 64u << 10;
inline constexpr size_t kMaxCsvColumns = 4096;
inline constexpr size_t kMaxCsvCells = 50000000;

// Parses `text` (the file `path`, for messages); a leading UTF-8 byte order mark is skipped.
// InvalidArgument naming the line where a quoted field is left open or a control character
// (other than tab and line ends) stands, or where a bound above is crossed.
Result<std::vector<CsvRecord>> ParseCsv(const std::string& text, const std::string& path);

}  // namespace wattfleet
