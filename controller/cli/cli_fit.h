// `wattfleet import` and `wattfleet fit` (docs/design/cli.md). Each returns the process exit code: 0
// success, 2 bad input (the message names file:line:column, or the flag), 1 other failure.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace wattfleet {

// External measurement CSVs into the dataset through a mapping file (docs/import.md). With
// `json`, one document on stdout: import_id, source, csv, csv_sha256, rows_read,
// rows_filtered, rows_stored, already_imported.
// CSVs named in `csvs` are imported through the mapping in turn (each once, by content);
// with none, the mapping's own csv:. With any named, `json` gives imports[] of such
// documents.
int CmdImport(const std::string& db, const std::string& mapping,
              const std::vector<std::string>& csvs, bool json);

// Fits and evaluates `estimator` ("powerlaw", or "all" for every estimator built here) on
// the dataset's imported measurements; prints curves and the comparison table, or with
// `json` one document with results[] and curves[].
int CmdFit(const std::string& db, const std::optional<std::string>& device,
           const std::string& estimator, bool json);

}  // namespace wattfleet
