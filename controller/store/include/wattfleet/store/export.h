// Export of the dataset: one row per measurement, as CSV (one header row) or JSON Lines.
// The columns are a public interface (docs/design/cli.md, docs/dataset.md): add, never rename.
#pragma once

#include <ostream>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "wattfleet/store/store.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

// A column of a published table: its name, its Table Schema type ("integer", "number",
// "boolean" or "string"), its unit ("" for none; UCUM symbols: J, s, W, ms, Cel, MHz) and one
// line saying what it holds.
struct ColumnInfo {
  std::string name;
  std::string type;
  std::string unit;
  std::string description;
};

// The export's columns in output order, with their types and units (the one list the
// export's writers and the published package's schemas read).
const std::vector<ColumnInfo>& ExportColumnInfo();
// Their names.
const std::vector<std::string>& ExportColumns();

// One value of a row: missing (empty in CSV, null in JSON), an integer, a real, a truth or a
// text.
using ExportCell = std::variant<std::monostate, int64_t, double, bool, std::string>;

// A row's values in ExportColumns() order: what CSV and JSON Lines write, and what the Python
// package hands pandas as typed columns.
std::vector<ExportCell> ExportCells(const ExportRow& row);

// How text cells are written. A file is for spreadsheets too: a cell that would run as a
// formula (leading =, +, -, @, tab or CR) is written as text, with a leading single quote.
// A program that parses the CSV itself takes the exact text.
enum class CsvText { kForSpreadsheets, kExact };

// One table row at a time, for tables other than the export's too (a published package's):
// the header, a row of cells, and a JSON Lines object of names and cells.
void WriteCsvHeader(const std::vector<std::string>& names, std::ostream& out);
void WriteCsvRow(const std::vector<ExportCell>& cells, CsvText text, std::ostream& out);
void WriteJsonLine(const std::vector<std::string>& names, const std::vector<ExportCell>& cells,
                   std::ostream& out);

void WriteCsv(const std::vector<ExportRow>& rows, std::ostream& out,
              CsvText text = CsvText::kForSpreadsheets);
void WriteJsonLines(const std::vector<ExportRow>& rows, std::ostream& out);

// Writes `format` ("csv" | "jsonl") to `path` atomically (temporary file, then rename), so
// that a failure never leaves a half-written file. Unknown formats are InvalidArgument.
Status WriteExportFile(const std::vector<ExportRow>& rows, const std::string& format,
                       const std::string& path);

}  // namespace wattfleet
