// RFC 4180 CSV records (import_csv.h).
#include "import_csv.h"

#include <cctype>
#include <cstdio>

namespace wattfleet {

namespace {

// What one file may hold: a cell of megabytes is no name or number, and a file of commas
// would be hundreds of millions of empty cells.
class Bounds {
 public:
  explicit Bounds(const std::string& path) : path_(path) {}
  Status Cell(const std::string& cell, const CsvRecord& rec) const {
    if (cell.size() <= kMaxCsvCellBytes) return Status::OK();
    return Status::InvalidArgument(path_ + ":" + std::to_string(rec.line) + ": column " +
                                   std::to_string(rec.cells.size() + 1) + ": a cell of more "
                                   "than " + std::to_string(kMaxCsvCellBytes) + " bytes");
  }
  // After a cell is added to `rec`.
  Status Record(const CsvRecord& rec) {
    if (rec.cells.size() > kMaxCsvColumns) {
      return Status::InvalidArgument(path_ + ":" + std::to_string(rec.line) + ": more than " +
                                     std::to_string(kMaxCsvColumns) + " columns");
    }
    if (++cells_ > kMaxCsvCells) {
      return Status::InvalidArgument(path_ + ":" + std::to_string(rec.line) + ": more than " +
                                     std::to_string(kMaxCsvCells) + " cells in the file");
    }
    return Status::OK();
  }

 private:
  const std::string& path_;
  size_t cells_ = 0;
};

}  // namespace

Result<std::vector<CsvRecord>> ParseCsv(const std::string& text, const std::string& path) {
  Bounds bounds(path);
  std::vector<CsvRecord> out;
  CsvRecord rec;
  std::string cell;
  int64_t line = 1;
  rec.line = 1;
  bool quoted = false, any = false;
  // A UTF-8 byte order mark (spreadsheets write one) is not part of the first column's name.
  const size_t start = text.rfind("\xEF\xBB\xBF", 0) == 0 ? 3 : 0;
  for (size_t i = start; i < text.size(); ++i) {
    const char c = text[i];
    // Control characters (a NUL, an escape) belong in no name or number: refused, never stored.
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n' && c != '\r' && c != '\t') || u == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", u);
      return Status::InvalidArgument(path + ":" + std::to_string(line) +
                                     ": control character " + hex + " in the CSV");
    }
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          cell += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        cell += c;
      }
      WF_RETURN_IF_ERROR(bounds.Cell(cell, rec));
      continue;
    }
    if (c == '"' && cell.empty()) {
      quoted = true;
      any = true;
    } else if (c == ',') {
      rec.cells.push_back(std::move(cell));
      cell.clear();
      any = true;
      WF_RETURN_IF_ERROR(bounds.Record(rec));
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      if (any || !cell.empty()) {
        rec.cells.push_back(std::move(cell));
        WF_RETURN_IF_ERROR(bounds.Record(rec));
        out.push_back(std::move(rec));
      }
      cell.clear();
      rec = CsvRecord();
      any = false;
      rec.line = ++line;
    } else {
      cell += c;
      any = true;
      WF_RETURN_IF_ERROR(bounds.Cell(cell, rec));
    }
  }
  if (quoted) {
    return Status::InvalidArgument(path + ":" + std::to_string(rec.line) +
                                   ": unterminated quoted field");
  }
  if (any || !cell.empty()) {
    rec.cells.push_back(std::move(cell));
    WF_RETURN_IF_ERROR(bounds.Record(rec));
    out.push_back(std::move(rec));
  }
  return out;
}

}  // namespace wattfleet
