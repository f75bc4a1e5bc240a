// Private to the store: the one definition of the measurements table's columns that hold what
// an agent measured. Both backends' INSERT, the export's and the read side's SELECT, and the
// Measurement they read back derive from this list; the table holds each figure once (the
// message as received is not kept beside it). A column added here is a schema migration in
// both backends (sqlite_schema.cc, pg_schema.cc) and nothing else.
#pragma once

#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "wattfleet/common/job.h"
#include "wattfleet/common/status.h"

namespace wattfleet::measurement_columns {

// How a column stores its value: NULL stands for a figure not measured (NaN) or a text not
// given, as SQLite cannot hold a NaN.
enum class Kind { kText, kOptionalText, kInt, kBool, kReal, kOptionalReal };

// A column's value on its way to or from a row: NULL, or one of the kinds' C++ types.
using Value = std::variant<std::monostate, bool, int64_t, double, std::string>;

struct Column {
  const char* name;
  Kind kind;
  Value (*get)(const Measurement& m);
  // Corruption when a stored text (the repeats' JSON) cannot be read back.
  Status (*set)(Measurement& m, Value&& v);
};

inline constexpr const char* kRepeatsColumn = "repeats_json";

// The windows from their JSON text (the repeats_json column). Corruption for anything else.
Result<std::vector<Repeat>> ParseRepeats(const std::string& json);

// Every column, in the order INSERTs bind them and SELECTs read them.
const std::vector<Column>& Columns();

// "sensor, domain, ..." with each name after `prefix` ("m."): a SELECT's or INSERT's list.
std::string List(const std::string& prefix = "");

// The values of `m`, one per column.
std::vector<Value> ValuesOf(const Measurement& m);

// Hands each column's value of `m` to `bind`, in order, NULL as std::nullopt: what both
// backends' parameter binders take.
template <typename Bind>
void BindValues(const Measurement& m, Bind&& bind) {
  for (const Value& v : ValuesOf(m)) {
    std::visit(
        [&](const auto& x) {
          if constexpr (std::is_same_v<std::decay_t<decltype(x)>, std::monostate>) {
            bind(std::nullopt);
          } else {
            bind(x);
          }
        },
        v);
  }
}

// Reads the columns from `row` starting at column `first` (the SELECT's list from List()).
// `row` has Int, Double, Bool, Text and IsNull by column, as read_rows.h's adapters do. With
// `repeats_json`, the windows are handed over as their JSON text there instead of being read
// into m.repeats: a reader going through every measurement for what most callers never look
// at would spend a good part of its time in it (ParseRepeats reads them when wanted).
template <typename Row>
Result<Measurement> From(const Row& row, int first, std::string* repeats_json = nullptr) {
  Measurement m;
  int c = first;
  for (const Column& col : Columns()) {
    if (repeats_json != nullptr && std::string_view(col.name) == kRepeatsColumn) {
      *repeats_json = row.IsNull(c) ? std::string("[]") : row.Text(c);
      ++c;
      continue;
    }
    Value v;
    if (!row.IsNull(c)) {
      switch (col.kind) {
        case Kind::kText:
        case Kind::kOptionalText: v = row.Text(c); break;
        case Kind::kInt: v = row.Int(c); break;
        case Kind::kBool: v = row.Bool(c); break;
        case Kind::kReal:
        case Kind::kOptionalReal: v = row.Double(c); break;
      }
    }
    WF_RETURN_IF_ERROR(col.set(m, std::move(v)).WithContext(std::string("column ") + col.name));
    ++c;
  }
  return m;
}

}  // namespace wattfleet::measurement_columns
