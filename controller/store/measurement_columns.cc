#include "measurement_columns.h"

#include <limits>

#include <nlohmann/json.hpp>

#include "store_values.h"
#include "wattfleet/store/dataset_reader.h"

namespace wattfleet::measurement_columns {
namespace {

template <typename T>
T Or(Value& v, T fallback) {
  if (T* x = std::get_if<T>(&v)) return std::move(*x);
  return fallback;
}

template <std::string Measurement::*F>
Column Text(const char* name) {
  return {name, Kind::kText, [](const Measurement& m) -> Value { return m.*F; },
          [](Measurement& m, Value&& v) {
            m.*F = Or<std::string>(v, "");
            return Status::OK();
          }};
}

// '' is stored as NULL.
template <std::string Measurement::*F>
Column OptionalText(const char* name) {
  return {name, Kind::kOptionalText,
          [](const Measurement& m) -> Value {
            if ((m.*F).empty()) return std::monostate{};
            return m.*F;
          },
          [](Measurement& m, Value&& v) {
            m.*F = Or<std::string>(v, "");
            return Status::OK();
          }};
}

template <int64_t Measurement::*F>
Column Int(const char* name) {
  return {name, Kind::kInt, [](const Measurement& m) -> Value { return m.*F; },
          [](Measurement& m, Value&& v) {
            m.*F = Or<int64_t>(v, 0);
            return Status::OK();
          }};
}

template <bool Measurement::*F>
Column Bool(const char* name) {
  return {name, Kind::kBool, [](const Measurement& m) -> Value { return m.*F; },
          [](Measurement& m, Value&& v) {
            m.*F = Or<bool>(v, false);
            return Status::OK();
          }};
}

template <double Measurement::*F>
Column Real(const char* name) {
  return {name, Kind::kReal, [](const Measurement& m) -> Value { return m.*F; },
          [](Measurement& m, Value&& v) {
            m.*F = Or<double>(v, std::numeric_limits<double>::quiet_NaN());
            return Status::OK();
          }};
}

// NaN (not measured) and the infinities are stored as NULL.
template <double Measurement::*F>
Column OptionalReal(const char* name) {
  return {name, Kind::kOptionalReal,
          [](const Measurement& m) -> Value {
            if (!std::isfinite(m.*F)) return std::monostate{};
            return m.*F;
          },
          [](Measurement& m, Value&& v) {
            m.*F = Or<double>(v, std::numeric_limits<double>::quiet_NaN());
            return Status::OK();
          }};
}

// The repeats' JSON read as a stream of events (nlohmann's SAX interface): no document is
// built, which matters when a reader goes through a hundred thousand measurements.
class RepeatsReader final : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit RepeatsReader(std::vector<Repeat>* out) : out_(out) {}

  bool null() override { return Number(std::numeric_limits<double>::quiet_NaN()); }  // a NaN
  bool boolean(bool) override { return Fail(); }
  bool number_integer(number_integer_t v) override { return Number(static_cast<double>(v)); }
  bool number_unsigned(number_unsigned_t v) override { return Number(static_cast<double>(v)); }
  bool number_float(number_float_t v, const string_t&) override { return Number(v); }
  bool string(string_t&) override { return Fail(); }
  bool binary(binary_t&) override { return Fail(); }
  bool start_object(std::size_t) override {
    if (depth_++ != 1) return Fail();
    out_->push_back(Repeat{0, std::numeric_limits<double>::quiet_NaN(),
                           std::numeric_limits<double>::quiet_NaN()});
    return true;
  }
  bool key(string_t& k) override {
    key_ = k;
    return true;
  }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override { return depth_++ == 0 || Fail(); }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return Fail();
  }
  bool ok() const { return ok_; }

 private:
  bool Number(double v) {
    if (depth_ != 2 || out_->empty()) return Fail();
    Repeat& r = out_->back();
    if (key_ == "iterations") r.iterations = static_cast<int64_t>(v);
    if (key_ == "time_s") r.time_s = v;
    if (key_ == "energy_j") r.energy_j = v;
    return true;
  }
  bool Fail() {
    ok_ = false;
    return false;
  }

  std::vector<Repeat>* out_;
  std::string key_;
  int depth_ = 0;
  bool ok_ = true;
};

Status ReadRepeats(Measurement& m, Value&& v) {
  m.repeats.clear();
  const std::string* text = std::get_if<std::string>(&v);
  if (text == nullptr) return Status::OK();
  WF_ASSIGN_OR_RETURN(m.repeats, ParseRepeats(*text));
  return Status::OK();
}

Status ReadFlags(Measurement& m, Value&& v) {
  m.flags.clear();
  const std::string text = Or<std::string>(v, "");
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = std::min(text.find(';', start), text.size());
    if (end > start) m.flags.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return Status::OK();
}

std::vector<Column> MakeColumns() {
  using M = Measurement;
  return {
      Text<&M::sensor>("sensor"),
      Text<&M::domain>("domain"),
      Bool<&M::energy_is_estimate>("energy_is_estimate"),
      Text<&M::energy_model>("energy_model"),
      Real<&M::time_per_iter_s>("time_per_iter_s"),
      Real<&M::time_std_s>("time_std_s"),
      Real<&M::energy_per_iter_j>("energy_per_iter_j"),
      Real<&M::energy_std_j>("energy_std_j"),
      Real<&M::energy_dynamic_per_iter_j>("energy_dynamic_per_iter_j"),
      Real<&M::idle_w>("idle_w"),
      Real<&M::rel_ci>("rel_ci"),
      Real<&M::time_rel_ci>("time_rel_ci"),
      Bool<&M::ci_met>("ci_met"),
      Int<&M::iterations_per_window>("iterations_per_window"),
      // The windows' count, for queries; the windows themselves are repeats_json.
      {"repeats", Kind::kInt,
       [](const M& m) -> Value { return static_cast<int64_t>(m.repeats.size()); },
       [](M&, Value&&) { return Status::OK(); }},
      {kRepeatsColumn, Kind::kText, [](const M& m) -> Value { return RepeatsJson(m.repeats); },
       ReadRepeats},
      OptionalReal<&M::interference>("interference"),
      Int<&M::windows_discarded>("windows_discarded"),
      // QualityFlagsText: "ci" too for a measurement from before flags were sent.
      {"quality_flags", Kind::kText, [](const M& m) -> Value { return QualityFlagsText(m); },
       ReadFlags},
      OptionalReal<&M::energy_bound_j>("energy_bound_j"),
      OptionalReal<&M::sensor_update_period_s>("sensor_update_period_s"),
      Text<&M::agent_name>("agent_name"),
      Text<&M::agent_version>("agent_version"),
      Text<&M::torch_version>("torch_version"),
      Text<&M::device>("device"),
      Int<&M::threads>("threads"),
      OptionalReal<&M::temperature_before_c>("temperature_before_c"),
      OptionalReal<&M::temperature_after_c>("temperature_after_c"),
      OptionalReal<&M::clock_before_mhz>("clock_before_mhz"),
      OptionalReal<&M::clock_after_mhz>("clock_after_mhz"),
      OptionalText<&M::telemetry_source>("telemetry_source"),
  };
}

}  // namespace

Result<std::vector<Repeat>> ParseRepeats(const std::string& json) {
  std::vector<Repeat> repeats;
  RepeatsReader reader(&repeats);
  if (!nlohmann::json::sax_parse(json, &reader) || !reader.ok()) {
    return Status::Corruption("repeats are not a JSON array of windows");
  }
  return repeats;
}

const std::vector<Column>& Columns() {
  static const std::vector<Column> kColumns = MakeColumns();
  return kColumns;
}

std::string List(const std::string& prefix) {
  std::string out;
  for (const Column& c : Columns()) out += (out.empty() ? "" : ", ") + prefix + c.name;
  return out;
}

std::vector<Value> ValuesOf(const Measurement& m) {
  std::vector<Value> out;
  out.reserve(Columns().size());
  for (const Column& c : Columns()) out.push_back(c.get(m));
  return out;
}

}  // namespace wattfleet::measurement_columns

namespace wattfleet {

Result<std::vector<Repeat>> RepeatsOf(const MeasurementRecord& record) {
  return measurement_columns::ParseRepeats(record.repeats_json);
}

}  // namespace wattfleet
