// The `columns:` section of an import mapping: parsing each derived column, and computing its
// cells row by row (derived_columns.h).
#include "derived_columns.h"

#include <cstdio>
#include <map>
#include <set>

#include "import_mapping_parser.h"
#include "wattfleet/common/text.h"

namespace wattfleet::import_internal {
namespace {

struct Unit {
  const char* name;
  double factor;  // to joules or seconds
};
constexpr Unit kUnits[] = {
    {"J", 1},         {"mJ", 1e-3},  {"uJ", 1e-6},  {"kJ", 1e3},    {"Wh", 3600},
    {"kWh", 3.6e6},   {"MWh", 3.6e9}, {"s", 1},     {"ms", 1e-3},   {"us", 1e-6},
    {"ns", 1e-9},     {"min", 60},   {"h", 3600},
};

// Every digit a double holds, so that a converted cell reads back as the same number.
std::string Exact(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

Result<std::vector<std::string>> Split(const DerivedColumns& d, const std::string& cell) {
  std::map<std::string, std::string> values;
  size_t at = 0;
  while (at <= cell.size()) {
    size_t end = cell.find(d.items, at);
    if (end == std::string::npos) end = cell.size();
    const std::string item = Trim(cell.substr(at, end - at));
    at = end + d.items.size();
    if (item.empty()) continue;
    const size_t sep = item.find(d.pairs);
    // An item without a key/value separator is a bare word, no key: passed over.
    if (sep == std::string::npos) continue;
    const std::string key = Trim(item.substr(0, sep));
    if (!values.emplace(key, Trim(item.substr(sep + d.pairs.size()))).second) {
      return Status::InvalidArgument("'" + d.from + "' gives key '" + key + "' twice");
    }
  }
  std::vector<std::string> out;
  for (const std::string& key : d.keys) {
    const auto it = values.find(key);
    out.push_back(it == values.end() ? std::string() : it->second);
  }
  return out;
}

Result<std::vector<std::string>> Match(const DerivedColumns& d, const std::string& cell) {
  if (cell.size() > kMaxRegexCell) {
    return Status::InvalidArgument("'" + d.from + "' is " + std::to_string(cell.size()) +
                                   " characters, more than the " +
                                   std::to_string(kMaxRegexCell) + " a regex is run on");
  }
  std::smatch m;
  std::vector<std::string> out(d.into.size());
  if (!std::regex_match(cell, m, *d.regex)) return out;
  for (size_t i = 0; i < out.size(); ++i) out[i] = m[i + 1].str();
  return out;
}

}  // namespace

double UnitFactor(const std::string& unit) {
  for (const Unit& u : kUnits)
    if (unit == u.name) return u.factor;
  return 0;
}

std::string KnownUnits() {
  std::vector<std::string> names;
  for (const Unit& u : kUnits) names.push_back(u.name);
  return Join(names);
}

Result<std::vector<std::string>> Derive(const DerivedColumns& d, const std::string& cell) {
  switch (d.kind) {
    case DerivedColumns::Kind::kSplit:
      return Split(d, cell);
    case DerivedColumns::Kind::kRegex:
      return Match(d, cell);
    case DerivedColumns::Kind::kUnit: {
      // Not a number: an empty cell, which an expression reading it reports with the row.
      const auto v = ParseDouble(cell);
      return std::vector<std::string>{v ? Exact(*v * d.factor) : std::string()};
    }
  }
  return Status::Internal("unknown derived column kind");
}

Result<std::vector<DerivedColumns>> MappingParser::ParseColumns(const YAML::Node& list) const {
  if (!list.IsSequence()) return Err(list.Mark(), "columns must be a list");
  std::vector<DerivedColumns> out;
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node n = list[i];
    const std::string label = "columns[" + std::to_string(i) + "]";
    if (!n.IsMap()) return Err(n.Mark(), label + " must be {from: C, split|regex|unit: ...}");
    WF_RETURN_IF_ERROR(CheckKeys(n, label, {"from", "split", "keys", "prefix", "regex", "into",
                                            "unit"}));
    DerivedColumns d;
    d.mark = n.Mark();
    WF_ASSIGN_OR_RETURN(const YAML::Node from, Required(n, "from", label));
    WF_ASSIGN_OR_RETURN(d.from, ScalarOf(from, label + ".from"));
    const int kinds = int{n["split"].IsDefined()} + int{n["regex"].IsDefined()} +
                      int{n["unit"].IsDefined()};
    if (kinds != 1) return Err(n.Mark(), label + " takes exactly one of split, regex or unit");
    if (n["split"]) {
      WF_RETURN_IF_ERROR(ParseSplit(n, label, &d));
    } else if (n["regex"]) {
      WF_RETURN_IF_ERROR(ParseRegex(n, label, &d));
    } else {
      WF_RETURN_IF_ERROR(ParseUnit(n, label, &d));
    }
    out.push_back(std::move(d));
  }
  return out;
}

Status MappingParser::ParseSplit(const YAML::Node& n, const std::string& label,
                                 DerivedColumns* d) const {
  d->kind = DerivedColumns::Kind::kSplit;
  for (const char* key : {"regex", "unit", "into"}) {
    if (n[key]) return Err(n[key].Mark(), label + ": " + key + " does not go with split");
  }
  const YAML::Node split = n["split"];
  if (!split.IsMap()) {
    return Err(split.Mark(), label + ".split must be {items: \",\", pairs: \":\"}");
  }
  WF_RETURN_IF_ERROR(CheckKeys(split, label + ".split", {"items", "pairs"}));
  if (split["items"]) {
    WF_ASSIGN_OR_RETURN(d->items, ScalarOf(split["items"], label + ".split.items"));
  }
  if (split["pairs"]) {
    WF_ASSIGN_OR_RETURN(d->pairs, ScalarOf(split["pairs"], label + ".split.pairs"));
  }
  if (d->items == d->pairs) {
    return Err(split.Mark(), label + ".split: items and pairs need different separators");
  }
  WF_ASSIGN_OR_RETURN(const YAML::Node keys, Required(n, "keys", label));
  if (!keys.IsSequence() || keys.size() == 0) {
    return Err(keys.Mark(), label + ".keys must list the keys to take, e.g. [layer, batch]");
  }
  std::string prefix;
  if (n["prefix"]) {
    WF_ASSIGN_OR_RETURN(prefix, ScalarOf(n["prefix"], label + ".prefix"));
  }
  for (size_t k = 0; k < keys.size(); ++k) {
    WF_ASSIGN_OR_RETURN(std::string key, ScalarOf(keys[k], label + ".keys"));
    d->keys.push_back(key);
    d->into.push_back(prefix + key);
  }
  return Status::OK();
}

Status MappingParser::ParseRegex(const YAML::Node& n, const std::string& label,
                                 DerivedColumns* d) const {
  d->kind = DerivedColumns::Kind::kRegex;
  for (const char* key : {"keys", "prefix", "unit"}) {
    if (n[key]) return Err(n[key].Mark(), label + ": " + key + " does not go with regex");
  }
  WF_ASSIGN_OR_RETURN(const std::string pattern, ScalarOf(n["regex"], label + ".regex"));
  try {
    d->regex = std::make_shared<const std::regex>(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return Err(n["regex"].Mark(), label + ".regex is not a regular expression: " + e.what());
  }
  WF_ASSIGN_OR_RETURN(const YAML::Node into, Required(n, "into", label));
  if (!into.IsSequence() || into.size() == 0) {
    return Err(into.Mark(), label + ".into must list a column name for each group");
  }
  for (size_t k = 0; k < into.size(); ++k) {
    WF_ASSIGN_OR_RETURN(std::string name, ScalarOf(into[k], label + ".into"));
    d->into.push_back(name);
  }
  if (d->regex->mark_count() != d->into.size()) {
    return Err(into.Mark(), label + ": the regex has " + std::to_string(d->regex->mark_count()) +
                                " groups and into names " + std::to_string(d->into.size()) +
                                " columns");
  }
  return Status::OK();
}

Status MappingParser::ParseUnit(const YAML::Node& n, const std::string& label,
                                DerivedColumns* d) const {
  d->kind = DerivedColumns::Kind::kUnit;
  for (const char* key : {"keys", "prefix"}) {
    if (n[key]) return Err(n[key].Mark(), label + ": " + key + " does not go with unit");
  }
  WF_ASSIGN_OR_RETURN(const std::string unit, ScalarOf(n["unit"], label + ".unit"));
  d->factor = UnitFactor(unit);
  if (d->factor == 0) {
    return Err(n["unit"].Mark(), label + ".unit: unknown unit '" + unit + "' (known: " +
                                     KnownUnits() + ")");
  }
  WF_ASSIGN_OR_RETURN(const YAML::Node into, Required(n, "into", label));
  WF_ASSIGN_OR_RETURN(std::string name, ScalarOf(into, label + ".into"));
  d->into.push_back(name);
  return Status::OK();
}

}  // namespace wattfleet::import_internal
