// Mapping parser and row evaluation for `wattfleet import` (format in docs/import.md).
//
// The YAML tree is walked by hand, as for campaign files, so that every error names
// file:line:column and unknown keys are refused instead of ignored.
#include "wattfleet/import/import_mapping.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "expression.h"
#include "import_csv.h"
#include "import_layers.h"
#include "import_mapping_parser.h"
#include "wattfleet/common/bounded_file.h"
#include "wattfleet/common/sha256.h"
#include "wattfleet/common/text.h"

namespace wattfleet {
namespace {

using import_internal::DeviceRule;
using import_internal::Filter;
using import_internal::Mapping;
using import_internal::MappingParser;
using import_internal::NumericField;
using import_internal::OperationField;
using import_internal::TextTemplate;

// A mapping is a page of YAML; a CSV may hold a lab's every layer, but not more than one
// import should hold in memory at once (it is parsed whole, in one transaction).
constexpr size_t kMaxMappingBytes = 1u << 20;
constexpr size_t kMaxCsvBytes = 512u << 20;

Result<std::string> ReadFile(const std::string& path, const std::string& what, size_t max) {
  auto text = ReadBoundedFile(path, what, FileBounds{max, /*follow_links=*/true});
  if (!text.ok()) return Status::InvalidArgument(text.status().message());
  return text;
}

// Evaluates the mapping over the CSV's rows.
class RowEvaluator {
 public:
  RowEvaluator(const MappingParser& parser, const Mapping& m, std::string csv_path)
      : parser_(parser), m_(m), csv_path_(std::move(csv_path)) {}

  Status Run(const std::vector<CsvRecord>& rows, ImportBatch* out) {
    if (rows.empty()) return parser_.Err(m_.csv_mark, "CSV " + csv_path_ + " is empty");
    for (size_t i = 0; i < rows[0].cells.size(); ++i) {
      const std::string name = Trim(rows[0].cells[i]);
      auto [it, fresh] = index_.emplace(name, i);
      // Which of two same-named columns a mapping means cannot be known: refused.
      if (!fresh) {
        return parser_.Err(m_.csv_mark, "CSV " + csv_path_ + ": the header names column '" +
                                            name + "' twice (columns " +
                                            std::to_string(it->second + 1) + " and " +
                                            std::to_string(i + 1) + ")");
      }
    }
    WF_RETURN_IF_ERROR(AddDerivedColumns());
    WF_RETURN_IF_ERROR(CheckColumns());
    for (size_t r = 1; r < rows.size(); ++r) {
      ++out->rows_read;
      row_ = &rows[r];
      row_number_ = static_cast<int64_t>(r);
      if (rows[r].cells.size() != rows[0].cells.size()) {
        return parser_.Err(m_.csv_mark, Where() + ": " + std::to_string(rows[r].cells.size()) +
                                            " cells, the header has " +
                                            std::to_string(rows[0].cells.size()));
      }
      WF_RETURN_IF_ERROR(ReadCells());
      if (!Keep()) {
        ++out->rows_filtered;
        continue;
      }
      WF_ASSIGN_OR_RETURN(ExternalRecord rec, Record());
      out->records.push_back(std::move(rec));
    }
    return Status::OK();
  }

 private:
  std::string Where() const {
    return csv_path_ + " row " + std::to_string(row_number_) + " (line " +
           std::to_string(row_->line) + ")";
  }
  Status Need(const std::string& column, const YAML::Mark& mark, const std::string& what) {
    if (index_.count(column) != 0) return Status::OK();
    std::vector<std::string> names;
    for (const auto& [name, i] : index_) names.push_back(name);
    return parser_.Err(mark, what + ": column '" + column + "' is not in the header of " +
                                 csv_path_ + Suggestion(column, names));
  }
  // columns: each derived column gets its place after the header's, and must not hide one.
  Status AddDerivedColumns() {
    for (const import_internal::DerivedColumns& d : m_.columns) {
      WF_RETURN_IF_ERROR(Need(d.from, d.mark, "columns: from"));
      for (const std::string& name : d.into) {
        if (!index_.emplace(name, index_.size()).second) {
          return parser_.Err(d.mark, "columns: '" + name + "' is already a column of " +
                                         csv_path_ + " (name the derived one otherwise)");
        }
      }
    }
    return Status::OK();
  }
  // The row's trimmed cells, then its derived ones.
  Status ReadCells() {
    cells_.clear();
    for (const std::string& c : row_->cells) cells_.push_back(Trim(c));
    for (const import_internal::DerivedColumns& d : m_.columns) {
      auto derived = import_internal::Derive(d, Cell(d.from));
      if (!derived.ok()) {
        return parser_.Err(d.mark, "columns: " + Where() + ": " + derived.status().message());
      }
      for (std::string& c : *derived) cells_.push_back(std::move(c));
    }
    return Status::OK();
  }
  Status CheckColumns() {
    for (const DeviceRule& d : m_.devices)
      for (const auto& [col, val] : d.where) WF_RETURN_IF_ERROR(Need(col, d.mark, "device where"));
    for (const Filter& f : m_.filters) WF_RETURN_IF_ERROR(Need(f.column, f.mark, "filter"));
    std::vector<const TextTemplate*> templates = {&m_.name, &m_.family};
    if (m_.layer) templates.push_back(&m_.layer->type);
    if (m_.zoo) templates.push_back(&*m_.zoo);
    for (const TextTemplate* t : templates)
      for (const auto& [is_col, text] : t->parts)
        if (is_col) WF_RETURN_IF_ERROR(Need(text, t->mark, "template"));
    std::vector<const NumericField*> fields;
    for (const auto* list : {&m_.scalars, &m_.features})
      for (const NumericField& f : *list) fields.push_back(&f);
    if (m_.layer) {
      for (const auto& [type, list] : m_.layer->input)
        for (const NumericField& f : list) fields.push_back(&f);
      for (const auto& [type, list] : m_.layer->params)
        for (const NumericField& f : list) fields.push_back(&f);
    }
    if (m_.batch) fields.push_back(&*m_.batch);
    for (const OperationField& op : m_.operations) {
      fields.push_back(&op.flops);
      if (op.count) fields.push_back(&*op.count);
    }
    for (const NumericField* f : fields)
      for (const std::string& col : f->expr.Columns())
        WF_RETURN_IF_ERROR(Need(col, f->mark, f->name));
    return Status::OK();
  }
  const std::string& Cell(const std::string& column) const { return cells_[index_.at(column)]; }
  bool Keep() const {
    for (const Filter& f : m_.filters)
      if ((Cell(f.column) == f.value) != f.equals) return false;
    return true;
  }
  std::string Expand(const TextTemplate& t) const {
    std::string s;
    for (const auto& [is_col, text] : t.parts) s += is_col ? Cell(text) : text;
    return s;
  }
  Result<double> Eval(const NumericField& f) const {
    auto v = f.expr.Evaluate([&](const std::string& column) -> Result<double> {
      const std::string cell = Cell(column);
      const auto d = ParseDouble(cell);
      if (!d) {
        return Status::InvalidArgument("column '" + column + "' is not a number ('" + cell + "')");
      }
      return *d;
    });
    if (!v.ok()) return parser_.Err(f.mark, f.name + ": " + Where() + ": " + v.status().message());
    return v;
  }
  Result<ExternalRecord> Record() const {
    ExternalRecord rec;
    rec.row = row_number_;
    const DeviceRule* device = nullptr;
    for (const DeviceRule& d : m_.devices) {
      bool match = true;
      for (const auto& [col, val] : d.where) match = match && Cell(col) == val;
      if (match) {
        device = &d;
        break;
      }
    }
    if (device == nullptr) {
      return parser_.Err(m_.devices.front().mark,
                         Where() + ": matches no device's where (add a device or a filter)");
    }
    rec.device = device->device.name;
    rec.kind = m_.kind;
    rec.name = Expand(m_.name);
    if (rec.name.empty()) return parser_.Err(m_.name.mark, Where() + ": the name is empty");
    rec.family = Expand(m_.family);
    for (const NumericField& f : m_.scalars) {
      WF_ASSIGN_OR_RETURN(const double v, Eval(f));
      if (v < 0) {
        return parser_.Err(f.mark, f.name + ": " + Where() + ": negative value " +
                                       std::to_string(v));
      }
      if (f.name == "flops") rec.flops = v;
      if (f.name == "time_s") rec.time_s = v;
      if (f.name == "energy_j") rec.energy_j = v;
    }
    for (const NumericField& f : m_.features) {
      WF_ASSIGN_OR_RETURN(rec.features[f.name], Eval(f));
    }
    for (const OperationField& op : m_.operations) {
      OperationCost cost;
      WF_ASSIGN_OR_RETURN(cost.flops, Eval(op.flops));
      if (op.count) {
        WF_ASSIGN_OR_RETURN(cost.count, Eval(*op.count));
      }
      if (cost.flops < 0 || cost.count < 0) {
        return parser_.Err(op.flops.mark, op.name + ": " + Where() +
                                              ": FLOPs and count must not be negative");
      }
      rec.operations[op.name] = cost;
    }
    WF_RETURN_IF_ERROR(AddSpec(&rec));
    return rec;
  }

  // A whole number in [lo, hi] from `f`, or an error naming the row.
  Result<int64_t> Count(const NumericField& f, int64_t lo, int64_t hi) const {
    WF_ASSIGN_OR_RETURN(const double v, Eval(f));
    if (!(v >= static_cast<double>(lo) && v <= static_cast<double>(hi)) || v != std::floor(v)) {
      return parser_.Err(f.mark, f.name + ": " + Where() + ": " + std::to_string(v) +
                                     " is not a whole number in [" + std::to_string(lo) + ", " +
                                     std::to_string(hi) + "]");
    }
    return static_cast<int64_t>(v);
  }

  // record.layer / record.zoo: the spec the layer-wise estimators read (import_layers.h).
  Status AddSpec(ExternalRecord* rec) const {
    int64_t batch = 1;
    if (m_.batch) {
      WF_ASSIGN_OR_RETURN(batch, Count(*m_.batch, 1, kMaxImportedBatch));
    }
    if (m_.layer) {
      const std::string type = Expand(m_.layer->type);
      std::map<std::string, double> params;
      if (auto it = m_.layer->params.find(type); it != m_.layer->params.end()) {
        for (const NumericField& f : it->second) {
          WF_ASSIGN_OR_RETURN(params[f.name], Eval(f));
        }
      }
      if (Status known = CheckImportedLayerType(type); !known.ok()) {
        return parser_.Err(m_.layer->mark, "layer: " + Where() + ": " + known.message());
      }
      auto shape = m_.layer->input.find(type);
      if (shape == m_.layer->input.end()) shape = m_.layer->input.find("");
      if (shape == m_.layer->input.end()) {
        return parser_.Err(m_.layer->mark, "layer: " + Where() + ": record.layer.input gives "
                                           "no input shape for " + type);
      }
      std::vector<int64_t> input;
      for (const NumericField& d : shape->second) {
        WF_ASSIGN_OR_RETURN(const int64_t v, Count(d, 1, kMaxImportedDimension));
        input.push_back(v);
      }
      auto layer = ImportedLayer(type, params, input, batch, m_.mode);
      if (!layer.ok()) {
        return parser_.Err(m_.layer->mark, "layer: " + Where() + ": " + layer.status().message());
      }
      if (!rec->flops) rec->flops = (*layer)["flops"].get<double>() * static_cast<double>(batch);
      rec->spec = {{"layer", *std::move(layer)}};
    }
    if (m_.zoo) {
      auto arch = ImportedArchitecture(Expand(*m_.zoo), batch, m_.mode);
      if (!arch.ok()) {
        return parser_.Err(m_.zoo->mark, "zoo: " + Where() + ": " + arch.status().message());
      }
      rec->spec = {{"zoo", *std::move(arch)}};
    }
    return Status::OK();
  }

  const MappingParser& parser_;
  const Mapping& m_;
  std::string csv_path_;
  std::map<std::string, size_t> index_;
  const CsvRecord* row_ = nullptr;
  std::vector<std::string> cells_;  // row_'s, trimmed, and its derived columns' (ReadCells)
  int64_t row_number_ = 0;
};

}  // namespace

Result<ImportBatch> LoadImport(const std::string& mapping_path, const std::string& csv_path) {
  WF_ASSIGN_OR_RETURN(const std::string text, ReadFile(mapping_path, "mapping", kMaxMappingBytes));
  MappingParser parser(mapping_path);
  WF_ASSIGN_OR_RETURN(Mapping m, parser.Parse(text));
  if (csv_path.empty() && m.csv.empty()) {
    return Status::InvalidArgument(mapping_path + ": the mapping names no csv: and no CSV was "
                                   "given on the command line");
  }

  ImportBatch batch;
  batch.source = m.source;
  batch.mapping_path = mapping_path;
  batch.mapping_sha256 = Sha256Hex(text);
  // A CSV from the command line is relative to the working directory; the mapping's own is
  // relative to the mapping.
  std::filesystem::path csv(csv_path.empty() ? m.csv : csv_path);
  if (csv_path.empty() && csv.is_relative()) {
    csv = std::filesystem::path(mapping_path).parent_path() / csv;
  }
  batch.csv_path = csv.lexically_normal().string();
  auto csv_text = ReadFile(batch.csv_path, "CSV", kMaxCsvBytes);
  if (!csv_text.ok()) {
    if (!csv_path.empty()) return Status::InvalidArgument(csv_text.status().message());
    return parser.Err(m.csv_mark, csv_text.status().message());
  }
  batch.csv_sha256 = Sha256Hex(*csv_text);
  WF_ASSIGN_OR_RETURN(const std::vector<CsvRecord> rows, ParseCsv(*csv_text, batch.csv_path));
  for (const DeviceRule& d : m.devices) batch.devices.push_back(d.device);
  RowEvaluator eval(parser, m, batch.csv_path);
  WF_RETURN_IF_ERROR(eval.Run(rows, &batch));
  return batch;
}

}  // namespace wattfleet
