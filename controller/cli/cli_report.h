// `wattfleet report --db FILE --out report.html` (docs/design/cli.md, docs/report.md).
#pragma once

#include <string>

#include "wattfleet/report/report.h"

namespace wattfleet {

// Writes the report of `options.db` to `out` atomically (a temporary file beside it, then a
// rename), so that `out` is never half-written. Exit code: 0; 2 for bad input (a missing or
// unreadable dataset, an --out that cannot be created), with a message naming the flag; 1
// for other failures.
// What was written goes to stderr, or as one JSON document ({"out", "plots", "notes",
// "bytes"}) to stdout with `json`.
int CmdReport(const ReportOptions& options, const std::string& out, bool json = false);

}  // namespace wattfleet
