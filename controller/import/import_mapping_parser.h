// The mapping file of `wattfleet import` as parsed, and its parser (private to
// import_mapping.cc): the YAML tree is walked by hand, as for campaign files, so that every
// error names file:line:column and unknown keys are refused instead of ignored.
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "derived_columns.h"
#include "expression.h"
#include "wattfleet/import/import_mapping.h"
#include "wattfleet/common/text.h"

namespace wattfleet::import_internal {

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
  std::vector<DerivedColumns> columns;  // derived from the row's cells, in order
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
    WF_RETURN_IF_ERROR(CheckKeys(root, "", {"source", "csv", "columns", "device", "devices",
                                            "filters", "record"}));
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

    if (const YAML::Node columns = root["columns"]) {
      WF_ASSIGN_OR_RETURN(m.columns, ParseColumns(columns));
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
        // An empty value is a real test: `not_equals: ""` keeps the rows that give the column.
        if (!v.IsScalar()) return Err(v.Mark(), label + " must be a value");
        flt.value = v.Scalar();
        m.filters.push_back(std::move(flt));
      }
    }

    WF_ASSIGN_OR_RETURN(const YAML::Node rec, Required(root, "record", ""));
    WF_RETURN_IF_ERROR(ParseRecord(rec, &m));
    return m;
  }

 private:
  // columns: (derived_columns.cc)
  Result<std::vector<DerivedColumns>> ParseColumns(const YAML::Node& list) const;
  Status ParseSplit(const YAML::Node& n, const std::string& label, DerivedColumns* d) const;
  Status ParseRegex(const YAML::Node& n, const std::string& label, DerivedColumns* d) const;
  Status ParseUnit(const YAML::Node& n, const std::string& label, DerivedColumns* d) const;

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

}  // namespace wattfleet::import_internal
