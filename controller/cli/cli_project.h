// `wattfleet project`: STEP on a training log (docs/estimators.md). Exit code 0; 2 for bad
// input, with a message naming the file, line and column, or the flag.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wattfleet/common/status.h"

namespace wattfleet {

struct ProjectOptions {
  std::string series;       // CSV: a header row, then one row per iteration
  int64_t iterations = 0;   // N, the whole run
  std::string column;       // empty: energy_j, else time_s
  int64_t window = 0;       // 0: every iteration measured after the stable point
  bool json = false;
};

// One numeric column of a training log, in row order. `line_of` holds each value's line in
// the file, for messages. InvalidArgument naming file:line(:column) for anything malformed.
struct LogSeries {
  std::string column;
  std::vector<double> values;
  std::vector<int64_t> line_of;
};
Result<LogSeries> ReadLogColumn(const std::string& path, const std::string& column);

int CmdProject(const ProjectOptions& options);

}  // namespace wattfleet
