// Columns a mapping derives from a CSV's own cells before anything else reads the row
// (docs/import.md, "Derived columns"): tools such as CodeCarbon pack a run's hyper-parameters
// into one cell (`project_name` as `k:v,k:v`), name a model and batch in one text, or write
// energy in kWh. A derived column is then read like any header column: by templates, filters,
// device rules and expressions.
#pragma once

#include <yaml-cpp/yaml.h>

#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "wattfleet/common/status.h"

namespace wattfleet::import_internal {

struct DerivedColumns {
  enum class Kind { kSplit, kRegex, kUnit };
  Kind kind = Kind::kSplit;
  std::string from;               // a header column, or a column derived before this one
  std::vector<std::string> into;  // the columns it adds, in order
  // split: the key each `into` column takes (into[i] is prefix + keys[i]), and the separators
  // between items and between a key and its value.
  std::vector<std::string> keys;
  std::string items = ",";
  std::string pairs = ":";
  // regex: the whole cell must match; group i fills into[i]. Shared, immutable once built.
  std::shared_ptr<const std::regex> regex;
  // unit: the factor to joules or seconds.
  double factor = 1;
  YAML::Mark mark;
};

// The longest cell a regular expression is run on: libstdc++'s matcher recurses per
// character, so an unbounded cell could exhaust the stack.
inline constexpr size_t kMaxRegexCell = 4096;

// The SI factor of an energy or time unit (J, mJ, kJ, Wh, kWh, MWh; s, ms, us, ns, min, h),
// or 0 for a unit not known.
double UnitFactor(const std::string& unit);
// The units UnitFactor knows, for messages.
std::string KnownUnits();

// The cells `d` adds for a row whose `from` cell is `cell`, in `into` order. An item without
// its key, a key not asked for or a regex that does not match give empty cells (a filter may
// drop such rows); InvalidArgument, without the row's name, for a key given twice, a cell too
// long for a regex, or a unit value that is not a number.
Result<std::vector<std::string>> Derive(const DerivedColumns& d, const std::string& cell);

}  // namespace wattfleet::import_internal
