// Mapping parser and row evaluation for `wattfleet import` (format in docs/import.md).
//
// The YAML tree is walked by hand, as for campaign files, so that every error names
// file:line:column and unknown keys are refused instead of ignored.
#include "import_mapping.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "expression.h"
#include "import_layers.h"
#include "sha256.h"
#include "text_util.h"

namespace wattfleet {
namespace {

Result<std::string> ReadFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument(what + " " + path + ": cannot be read");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// RFC 4180 CSV: comma separated, double quotes around fields with commas, quotes ("") or
// newlines. `line` is the physical line each record starts on, for messages.
struct CsvRecord {
  int64_t line = 0;
  std::vector<std::string> cells;
};

Result<std::vector<CsvRecord>> ParseCsv(const std::string& text, const std::string& path) {
  std::vector<CsvRecord> out;
  CsvRecord rec;
  std::string cell;
  int64_t line = 1;
  rec.line = 1;
  bool quoted = false, any = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
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
      continue;
    }
    if (c == '"' && cell.empty()) {
      quoted = true;
      any = true;
    } else if (c == ',') {
      rec.cells.push_back(std::move(cell));
      cell.clear();
      any = true;
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      if (any || !cell.empty()) {
        rec.cells.push_back(std::move(cell));
        out.push_back(std::move(rec));
      }
      cell.clear();
      rec = CsvRecord();
      any = false;
      rec.line = ++line;
    } else {
      cell += c;
      any = true;
    }
  }
  if (quoted) {
    return Status::InvalidArgument(path + ":" + std::to_string(rec.line) +
                                   ": unterminated quoted field");
  }
  if (any || !cell.empty()) {
    rec.cells.push_back(std::move(cell));
    out.push_back(std::move(rec));
  }
  return out;
}

std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// A text field: a constant, or a template whose {column} parts are replaced by the row's cells.
struct TextTemplate {
  std::vector<std::pair<bool, std::string>> parts;  // (is_column, text or column name)
  YAML::Mark mark;
};

// A numeric field of a record: an expression with where it is written.
struct NumericField {
  std::string name;
  Expression expr;
  YAML::Mark mark;
};

struct OperationField {
  std::string name;
  NumericField flops;
  std::optional<NumericField> count;
};

struct Filter {
  std::string column;
  std::string value;
  bool equals = true;
  YAML::Mark mark;
};

struct DeviceRule {
  ExternalDevice device;
  std::vector<std::pair<std::string, std::string>> where;  // column == value, all of them
  YAML::Mark mark;
};

// record.layer: a layer named per row, and its per-sample input shape.
struct LayerField {
  TextTemplate type;
  std::map<std::string, std::vector<NumericField>> params;  // by layer type
  // One sample's input shape, by layer type ("" for every type when given as one list).
  std::map<std::string, std::vector<NumericField>> input;
  YAML::Mark mark;
};

struct Mapping {
  std::string source;
  std::string csv;
  YAML::Mark csv_mark = YAML::Mark::null_mark();  // null when the CSV is not the mapping's
  std::vector<DeviceRule> devices;
  std::vector<Filter> filters;
  std::string kind;
  TextTemplate name, family;
  std::vector<NumericField> scalars;     // flops, time_s, energy_j
  std::vector<NumericField> features;
  std::vector<OperationField> operations;
  std::optional<LayerField> layer;         // operations: the layer that was run
  std::optional<TextTemplate> zoo;         // architectures: the zoo architecture it was
  std::optional<NumericField> batch;       // with layer or zoo; 1 when absent
  std::string mode = "inference";
};

class MappingParser {
 public:
  explicit MappingParser(std::string path) : path_(std::move(path)) {}

  Status Err(const YAML::Mark& mark, const std::string& what) const {
    if (mark.is_null()) return Status::InvalidArgument(path_ + ": " + what);
    return Status::InvalidArgument(path_ + ":" + std::to_string(mark.line + 1) + ":" +
                                   std::to_string(mark.column + 1) + ": " + what);
  }

  Result<Mapping> Parse(const std::string& text) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      return Err(e.mark, "YAML error: " + e.msg);
    }
    if (!root.IsMap()) return Err(root.Mark(), "a mapping file must be a map of keys");
    WF_RETURN_IF_ERROR(CheckKeys(root, "", {"source", "csv", "device", "devices", "filters",
                                            "record"}));
    Mapping m;
    // csv: may be left out when the CSVs are named on the command line instead.
    if (const YAML::Node csv = root["csv"]) {
      WF_ASSIGN_OR_RETURN(m.csv, ScalarOf(csv, "csv"));
      m.csv_mark = csv.Mark();
    }
    if (root["source"]) {
      WF_ASSIGN_OR_RETURN(m.source, ScalarOf(root["source"], "source"));
    } else if (!m.csv.empty()) {
      m.source = std::filesystem::path(m.csv).filename().string();
    } else {
      m.source = std::filesystem::path(path_).stem().string();
    }

    if (root["device"] && root["devices"]) {
      return Err(root["devices"].Mark(), "give device or devices, not both");
    }
    if (root["device"]) {
      WF_ASSIGN_OR_RETURN(DeviceRule d, ParseDevice(root["device"], "device"));
      m.devices.push_back(std::move(d));
    } else if (root["devices"]) {
      const YAML::Node list = root["devices"];
      if (!list.IsSequence() || list.size() == 0) {
        return Err(list.Mark(), "devices must be a non-empty list of {name, peak_flops, where}");
      }
      std::set<std::string> names;
      for (size_t i = 0; i < list.size(); ++i) {
        WF_ASSIGN_OR_RETURN(DeviceRule d,
                            ParseDevice(list[i], "devices[" + std::to_string(i) + "]"));
        if (list.size() > 1 && d.where.empty()) {
          return Err(d.mark, "with several devices each needs where: {column: value}");
        }
        m.devices.push_back(std::move(d));
      }
    } else {
      return Err(root.Mark(), "device is required ({name: ..., peak_flops: ...})");
    }

    if (const YAML::Node filters = root["filters"]) {
      if (!filters.IsSequence()) return Err(filters.Mark(), "filters must be a list");
      for (size_t i = 0; i < filters.size(); ++i) {
        const YAML::Node f = filters[i];
        const std::string label = "filters[" + std::to_string(i) + "]";
        if (!f.IsMap()) return Err(f.Mark(), label + " must be {column: C, equals|not_equals: V}");
        WF_RETURN_IF_ERROR(CheckKeys(f, label, {"column", "equals", "not_equals"}));
        Filter flt;
        flt.mark = f.Mark();
        WF_ASSIGN_OR_RETURN(const YAML::Node col, Required(f, "column", label));
        WF_ASSIGN_OR_RETURN(flt.column, ScalarOf(col, label + ".column"));
        if (f["equals"].IsDefined() == f["not_equals"].IsDefined()) {
          return Err(f.Mark(), label + " takes exactly one of equals or not_equals");
        }
        flt.equals = f["equals"].IsDefined();
        const YAML::Node v = flt.equals ? f["equals"] : f["not_equals"];
        WF_ASSIGN_OR_RETURN(flt.value, ScalarOf(v, label));
        m.filters.push_back(std::move(flt));
      }
    }

    WF_ASSIGN_OR_RETURN(const YAML::Node rec, Required(root, "record", ""));
    WF_RETURN_IF_ERROR(ParseRecord(rec, &m));
    return m;
  }

 private:
  Status CheckKeys(const YAML::Node& map, const std::string& where,
                   const std::vector<std::string>& allowed) const {
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      if (!it->first.IsScalar()) return Err(it->first.Mark(), "keys must be plain names");
      const std::string key = it->first.Scalar();
      bool known = false;
      for (const std::string& a : allowed) known = known || a == key;
      const std::string in = where.empty() ? "" : " in " + where;
      if (!known) {
        return Err(it->first.Mark(), "unknown key '" + key + "'" + in +
                                         Suggestion(key, allowed) + " (allowed: " +
                                         Join(allowed) + ")");
      }
      if (!seen.insert(key).second) return Err(it->first.Mark(), "duplicate key '" + key + "'");
    }
    return Status::OK();
  }
  Result<YAML::Node> Required(const YAML::Node& map, const std::string& key,
                              const std::string& where) const {
    const YAML::Node n = map[key];
    if (!n) return Err(map.Mark(), (where.empty() ? "" : where + ".") + key + " is required");
    return n;
  }
  Result<std::string> ScalarOf(const YAML::Node& n, const std::string& label) const {
    if (!n.IsScalar() || n.Scalar().empty()) return Err(n.Mark(), label + " must be a value");
    return n.Scalar();
  }

  Result<DeviceRule> ParseDevice(const YAML::Node& n, const std::string& label) const {
    if (!n.IsMap()) return Err(n.Mark(), label + " must be {name: ..., peak_flops: ...}");
    WF_RETURN_IF_ERROR(CheckKeys(n, label, {"name", "peak_flops", "where"}));
    DeviceRule d;
    d.mark = n.Mark();
    WF_ASSIGN_OR_RETURN(const YAML::Node name, Required(n, "name", label));
    WF_ASSIGN_OR_RETURN(d.device.name, ScalarOf(name, label + ".name"));
    if (const YAML::Node peak = n["peak_flops"]) {
      WF_ASSIGN_OR_RETURN(const std::string text, ScalarOf(peak, label + ".peak_flops"));
      const auto v = ParseDouble(text);
      if (!v || *v <= 0) {
        return Err(peak.Mark(), label + ".peak_flops must be a positive number of FLOP/s "
                                        "(e.g. 156e12), got '" + text + "'");
      }
      d.device.peak_flops = *v;
    }
    if (const YAML::Node where = n["where"]) {
      if (!where.IsMap() || where.size() == 0) {
        return Err(where.Mark(), label + ".where must be a map {column: value}");
      }
      for (auto it = where.begin(); it != where.end(); ++it) {
        WF_ASSIGN_OR_RETURN(const std::string col, ScalarOf(it->first, label + ".where"));
        WF_ASSIGN_OR_RETURN(const std::string val, ScalarOf(it->second, label + ".where." + col));
        d.where.emplace_back(col, val);
      }
    }
    return d;
  }

  Result<TextTemplate> ParseTemplate(const YAML::Node& n, const std::string& label) const {
    WF_ASSIGN_OR_RETURN(const std::string text, ScalarOf(n, label));
    TextTemplate t;
    t.mark = n.Mark();
    size_t pos = 0;
    while (pos < text.size()) {
      const size_t open = text.find('{', pos);
      if (open == std::string::npos) {
        t.parts.emplace_back(false, text.substr(pos));
        break;
      }
      if (open > pos) t.parts.emplace_back(false, text.substr(pos, open - pos));
      const size_t close = text.find('}', open);
      if (close == std::string::npos || close == open + 1) {
        return Err(n.Mark(), label + ": '{' must be followed by a column name and '}'");
      }
      t.parts.emplace_back(true, text.substr(open + 1, close - open - 1));
      pos = close + 1;
    }
    return t;
  }

  Result<NumericField> ParseNumeric(const YAML::Node& n, const std::string& name,
                                    const std::string& label) const {
    WF_ASSIGN_OR_RETURN(const std::string text, ScalarOf(n, label));
    auto expr = Expression::Parse(text);
    if (!expr.ok()) return Err(n.Mark(), label + ": " + expr.status().message());
    return NumericField{name, std::move(expr).value(), n.Mark()};
  }

  Result<std::vector<NumericField>> ParseNumericMap(const YAML::Node& n,
                                                    const std::string& label) const {
    if (!n.IsMap()) return Err(n.Mark(), label + " must be a map of name: expression");
    std::vector<NumericField> out;
    std::set<std::string> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      WF_ASSIGN_OR_RETURN(const std::string key, ScalarOf(it->first, label));
      if (!seen.insert(key).second) return Err(it->first.Mark(), "duplicate key '" + key + "'");
      WF_ASSIGN_OR_RETURN(NumericField f, ParseNumeric(it->second, key, label + "." + key));
      out.push_back(std::move(f));
    }
    return out;
  }

  // record.layer (operations), record.zoo (architectures), record.batch and record.mode.
  Status ParseLayerAndZoo(const YAML::Node& rec, Mapping* m) const {
    if (const YAML::Node layer = rec["layer"]) {
      if (m->kind != "operation") return Err(layer.Mark(), "layer goes with kind: operation");
      if (!layer.IsMap()) {
        return Err(layer.Mark(), "record.layer must be a map {type, params, input}");
      }
      WF_RETURN_IF_ERROR(CheckKeys(layer, "record.layer", {"type", "params", "input"}));
      LayerField f;
      f.mark = layer.Mark();
      WF_ASSIGN_OR_RETURN(const YAML::Node type, Required(layer, "type", "record.layer"));
      WF_ASSIGN_OR_RETURN(f.type, ParseTemplate(type, "record.layer.type"));
      if (const YAML::Node params = layer["params"]) {
        if (!params.IsMap()) {
          return Err(params.Mark(), "record.layer.params must be a map of layer type: "
                                    "{hyper-parameter: expression}");
        }
        for (auto it = params.begin(); it != params.end(); ++it) {
          WF_ASSIGN_OR_RETURN(const std::string t, ScalarOf(it->first, "record.layer.params"));
          WF_ASSIGN_OR_RETURN(f.params[t],
                              ParseNumericMap(it->second, "record.layer.params." + t));
        }
      }
      WF_ASSIGN_OR_RETURN(const YAML::Node input, Required(layer, "input", "record.layer"));
      auto shape = [&](const YAML::Node& list, const std::string& label,
                       std::vector<NumericField>* out) -> Status {
        if (!list.IsSequence() || list.size() == 0 || list.size() > 4) {
          return Err(list.Mark(), label + " must list 1 to 4 dimensions of one sample's input "
                                          "(no batch), e.g. [channels, size, size]");
        }
        for (size_t i = 0; i < list.size(); ++i) {
          const std::string at = label + "[" + std::to_string(i) + "]";
          WF_ASSIGN_OR_RETURN(NumericField d, ParseNumeric(list[i], at, at));
          out->push_back(std::move(d));
        }
        return Status::OK();
      };
      if (input.IsMap()) {
        // One shape per layer type: a Linear reads [features], a Conv2d [C, H, W].
        for (auto it = input.begin(); it != input.end(); ++it) {
          WF_ASSIGN_OR_RETURN(const std::string t, ScalarOf(it->first, "record.layer.input"));
          WF_RETURN_IF_ERROR(shape(it->second, "record.layer.input." + t, &f.input[t]));
        }
      } else {
        WF_RETURN_IF_ERROR(shape(input, "record.layer.input", &f.input[""]));
      }
      m->layer = std::move(f);
    }
    if (const YAML::Node zoo = rec["zoo"]) {
      if (m->kind != "architecture") return Err(zoo.Mark(), "zoo goes with kind: architecture");
      WF_ASSIGN_OR_RETURN(m->zoo, ParseTemplate(zoo, "record.zoo"));
    }
    const bool named = m->layer.has_value() || m->zoo.has_value();
    if (const YAML::Node batch = rec["batch"]) {
      if (!named) return Err(batch.Mark(), "batch goes with layer: or zoo:");
      WF_ASSIGN_OR_RETURN(m->batch, ParseNumeric(batch, "batch", "record.batch"));
    }
    if (const YAML::Node mode = rec["mode"]) {
      if (!named) return Err(mode.Mark(), "mode goes with layer: or zoo:");
      WF_ASSIGN_OR_RETURN(m->mode, ScalarOf(mode, "record.mode"));
      if (m->mode != "inference" && m->mode != "training") {
        return Err(mode.Mark(), "record.mode must be inference or training, got '" + m->mode +
                                    "'");
      }
    }
    return Status::OK();
  }

  Status ParseRecord(const YAML::Node& rec, Mapping* m) const {
    if (!rec.IsMap()) return Err(rec.Mark(), "record must be a map (kind, name, flops, ...)");
    WF_RETURN_IF_ERROR(CheckKeys(rec, "record",
                                 {"kind", "name", "family", "flops", "time_s", "energy_j",
                                  "features", "operations", "layer", "zoo", "batch", "mode"}));
    WF_ASSIGN_OR_RETURN(const YAML::Node kind, Required(rec, "kind", "record"));
    WF_ASSIGN_OR_RETURN(m->kind, ScalarOf(kind, "record.kind"));
    if (m->kind != "operation" && m->kind != "architecture") {
      return Err(kind.Mark(), "record.kind must be operation or architecture, got '" +
                                  m->kind + "'");
    }
    WF_ASSIGN_OR_RETURN(const YAML::Node name, Required(rec, "name", "record"));
    WF_ASSIGN_OR_RETURN(m->name, ParseTemplate(name, "record.name"));
    if (rec["family"]) {
      WF_ASSIGN_OR_RETURN(m->family, ParseTemplate(rec["family"], "record.family"));
    }
    for (const char* key : {"flops", "time_s", "energy_j"}) {
      if (!rec[key]) continue;
      WF_ASSIGN_OR_RETURN(NumericField f,
                          ParseNumeric(rec[key], key, std::string("record.") + key));
      m->scalars.push_back(std::move(f));
    }
    WF_RETURN_IF_ERROR(ParseLayerAndZoo(rec, m));
    if (m->kind == "operation") {
      bool has_flops = m->layer.has_value(), has_time = false;  // a layer's FLOPs are known
      for (const NumericField& f : m->scalars) {
        has_flops = has_flops || f.name == "flops";
        has_time = has_time || f.name == "time_s";
      }
      if (!has_flops || !has_time) {
        return Err(rec.Mark(), "an operation record needs time_s, and flops unless it "
                               "names its layer");
      }
      if (rec["operations"]) {
        return Err(rec["operations"].Mark(), "operations goes with kind: architecture");
      }
    } else {
      bool has_target = false;
      for (const NumericField& f : m->scalars)
        has_target = has_target || f.name == "energy_j" || f.name == "time_s";
      if (!has_target) return Err(rec.Mark(), "an architecture record needs energy_j or time_s");
    }
    if (rec["features"]) {
      WF_ASSIGN_OR_RETURN(m->features, ParseNumericMap(rec["features"], "record.features"));
    }
    if (const YAML::Node ops = rec["operations"]) {
      if (!ops.IsMap()) {
        return Err(ops.Mark(), "record.operations must be a map of operation type: FLOPs "
                               "expression or {flops: ..., count: ...}");
      }
      std::set<std::string> seen;
      for (auto it = ops.begin(); it != ops.end(); ++it) {
        WF_ASSIGN_OR_RETURN(const std::string name, ScalarOf(it->first, "record.operations"));
        if (!seen.insert(name).second) {
          return Err(it->first.Mark(), "duplicate key '" + name + "'");
        }
        const std::string label = "record.operations." + name;
        const YAML::Node v = it->second;
        if (v.IsMap()) {
          WF_RETURN_IF_ERROR(CheckKeys(v, label, {"flops", "count"}));
          WF_ASSIGN_OR_RETURN(const YAML::Node flops, Required(v, "flops", label));
          WF_ASSIGN_OR_RETURN(NumericField f, ParseNumeric(flops, name, label + ".flops"));
          OperationField op{name, std::move(f), std::nullopt};
          if (v["count"]) {
            WF_ASSIGN_OR_RETURN(op.count, ParseNumeric(v["count"], name, label + ".count"));
          }
          m->operations.push_back(std::move(op));
        } else {
          WF_ASSIGN_OR_RETURN(NumericField f, ParseNumeric(v, name, label));
          m->operations.push_back(OperationField{name, std::move(f), std::nullopt});
        }
      }
    }
    return Status::OK();
  }

  std::string path_;
};

// Evaluates the mapping over the CSV's rows.
class RowEvaluator {
 public:
  RowEvaluator(const MappingParser& parser, const Mapping& m, std::string csv_path)
      : parser_(parser), m_(m), csv_path_(std::move(csv_path)) {}

  Status Run(const std::vector<CsvRecord>& rows, ImportBatch* out) {
    if (rows.empty()) return parser_.Err(m_.csv_mark, "CSV " + csv_path_ + " is empty");
    for (size_t i = 0; i < rows[0].cells.size(); ++i) index_[Trim(rows[0].cells[i])] = i;
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
  std::string Cell(const std::string& column) const {
    return Trim(row_->cells[index_.at(column)]);
  }
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
  int64_t row_number_ = 0;
};

}  // namespace

Result<ImportBatch> LoadImport(const std::string& mapping_path, const std::string& csv_path) {
  WF_ASSIGN_OR_RETURN(const std::string text, ReadFile(mapping_path, "mapping"));
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
  auto csv_text = ReadFile(batch.csv_path, "CSV");
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
