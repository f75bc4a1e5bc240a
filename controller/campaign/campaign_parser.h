// The campaign parser's internals, shared by campaign.cc (the file, devices, measurement
// and plan) and campaign_architectures.cc (the architectures: zoo names, families and their
// sweeps, model files). Not part of the controller's interface: use campaign.h.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "wattfleet/campaign/campaign.h"
#include "wattfleet/zoo/model_formats.h"
#include "wattfleet/zoo/zoo.h"  // SweepValue

namespace wattfleet::campaign_detail {

// A sweep larger than this is almost certainly a mistake (and would plan for hours).
constexpr int64_t kMaxSweepPoints = 10000;
// The whole campaign's bounds, checked before anything is built beyond them: the
// architectures of every entry together, and their layers together (what the plan, the
// store and the dispatcher hold in memory).
constexpr int64_t kMaxCampaignArchitectures = 10000;
constexpr int64_t kMaxCampaignLayers = 1000000;

// What a node holds, for "got ..." in messages.
std::string Describe(const YAML::Node& n);

// One `key: value` of a map, with the key node kept for its position.
struct Field {
  std::string name;
  YAML::Node key;
  YAML::Node value;
};

class Parser {
 public:
  // `plan_only`: stop after the plan (ParseCampaignPlan); the architectures are not built.
  explicit Parser(std::string path, bool plan_only = false)
      : path_(std::move(path)), plan_only_(plan_only) {}

  Result<Campaign> Parse(const std::string& text);

 private:
  Status Err(const YAML::Mark& mark, const std::string& what) const {
    if (mark.is_null()) return Status::InvalidArgument(path_ + ": " + what);
    return Status::InvalidArgument(path_ + ":" + std::to_string(mark.line + 1) + ":" +
                                   std::to_string(mark.column + 1) + ": " + what);
  }
  // yaml-cpp places an empty value (`key:`) at the next token, possibly lines below; the key
  // is where the reader should look.
  static YAML::Mark At(const Field& f) {
    return f.value.IsNull() ? f.key.Mark() : f.value.Mark();
  }

  // Checks that `node` is a map whose keys are all in `allowed`, without duplicates.
  // `where` names the map in messages ("" for the top level).
  Result<std::vector<Field>> Fields(const YAML::Node& node, const std::string& where,
                                    const std::vector<std::string>& allowed) const;
  static const Field* Find(const std::vector<Field>& fields, std::string_view name) {
    for (const auto& f : fields) {
      if (f.name == name) return &f;
    }
    return nullptr;
  }

  // An integer scalar in [min, max]; the error names the range.
  Result<int64_t> Int(const Field& f, const std::string& label, int64_t min, int64_t max) const;
  Result<bool> Bool(const Field& f, const std::string& label) const;
  Result<std::string> Name(const Field& f, const std::string& label) const;
  // A number strictly between 0 and 1, e.g. a relative CI or std target.
  Result<double> Fraction(const Field& f, const std::string& label) const;
  // The field `name` of `fields`, read by `parse` (ParseMode, ParseLoss, ...) into `*out`
  // where present; the error says what it `must_be` and what it was. `*field`: the field, or
  // null where absent.
  template <typename E, typename Parse>
  Status EnumField(const std::vector<Field>& fields, const char* name, Parse parse,
                   const char* must_be, E* out, const Field** field = nullptr) const {
    const Field* f = Find(fields, name);
    if (field != nullptr) *field = f;
    if (f == nullptr) return Status::OK();
    std::optional<E> v;
    if (f->value.IsScalar()) v = parse(f->value.Scalar());
    if (!v) {
      return Err(At(*f), std::string(name) + " must be " + must_be + ", got " + Describe(f->value));
    }
    *out = *v;
    return Status::OK();
  }

  Status ParseName(const Field& f, Campaign* c) const;
  Status ParseHowItRuns(const std::vector<Field>& fields, Campaign* c) const;
  Status ParseBatchSizes(const Field& f, Campaign* c) const;
  Status ParseDevices(const Field& f, Campaign* c) const;
  Status ParseMeasurement(const Field& f, MeasurementSettings* m) const;
  Status ParsePlan(const Field& f, PlanOptions* p) const;
  Status ParseActive(const Field& f, const PlanOptions& p, ActiveOptions* out) const;
  Status ParseEstimators(const Field& f, std::vector<std::string>* out) const;
  Status ParseArchitectures(const Field& f, std::vector<Architecture>* out) const;
  Status ParseEntry(const YAML::Node& entry, const std::string& label,
                    std::vector<Architecture>* out) const;
  Status ParseFamily(const YAML::Node& entry, const std::vector<Field>& fields,
                     const std::string& label, std::vector<Architecture>* out) const;
  Result<std::vector<SweepValue>> SweepValues(const Field& f, const std::string& label) const;
  Status ParseModelFile(const ModelFormat& format, const YAML::Node& entry,
                        const std::vector<Field>& fields, const std::string& label,
                        std::vector<Architecture>* out) const;

  std::string path_;
  bool plan_only_ = false;
};

}  // namespace wattfleet::campaign_detail
