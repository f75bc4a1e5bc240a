// Campaign parsing and validation (schema in docs/campaign.md).
//
// The parser walks the YAML tree by hand instead of converting with yaml-cpp's `as<T>()`:
// every error must name file:line:column and the key, which conversions cannot do, and
// unknown keys must be rejected rather than ignored (a typo like `batchsize` would otherwise
// silently measure with the default).
#include "campaign.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>

#include "active_grid.h"
#include "text_util.h"
#include "torchscript_import.h"
#include "zoo.h"

namespace wattfleet {
namespace {

// A sweep larger than this is almost certainly a mistake (and would plan for hours).
constexpr int64_t kMaxSweepPoints = 10000;

const std::vector<std::string>& KnownEstimators() {
  static const std::vector<std::string> kNames = {"thor", "wattlayer", "powerlaw", "macs",
                                                  "step", "pre",       "tdp"};
  return kNames;
}

// What a node holds, for "got ..." in messages.
std::string Describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar: return "'" + n.Scalar() + "'";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a map";
    default: return "nothing";
  }
}

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

  Result<int64_t> Int(const Field& f, const std::string& label, int64_t min) const;
  Result<bool> Bool(const Field& f, const std::string& label) const;
  Result<std::string> Name(const Field& f, const std::string& label) const;
  // A number strictly between 0 and 1, e.g. a relative CI or std target.
  Result<double> Fraction(const Field& f, const std::string& label) const;

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
  Status ParseTorchScript(const YAML::Node& entry, const std::vector<Field>& fields,
                          const std::string& label, std::vector<Architecture>* out) const;

  std::string path_;
  bool plan_only_ = false;
};

Result<std::vector<Field>> Parser::Fields(const YAML::Node& node, const std::string& where,
                                          const std::vector<std::string>& allowed) const {
  std::vector<Field> out;
  for (auto it = node.begin(); it != node.end(); ++it) {
    // yaml-cpp iterators hand out a temporary pair: copy the node (a cheap handle).
    const YAML::Node key = it->first;
    if (!key.IsScalar()) {
      return Err(key.Mark(), "keys must be plain names" + (where.empty() ? "" : " in " + where));
    }
    const std::string name = key.Scalar();
    if (const Field* prev = Find(out, name)) {
      return Err(key.Mark(), "duplicate key '" + name + "' (first at " +
                                 std::to_string(prev->key.Mark().line + 1) + ":" +
                                 std::to_string(prev->key.Mark().column + 1) + ")");
    }
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      return Err(key.Mark(), "unknown key '" + name + "'" +
                                 (where.empty() ? "" : " in " + where) +
                                 Suggestion(name, allowed));
    }
    out.push_back(Field{name, key, it->second});
  }
  return out;
}

Result<int64_t> Parser::Int(const Field& f, const std::string& label, int64_t min) const {
  std::optional<int64_t> v;
  if (f.value.IsScalar()) v = ParseInt(f.value.Scalar());
  if (!v || *v < min) {
    return Err(At(f), label + " must be an integer >= " + std::to_string(min) + ", got " +
                          Describe(f.value));
  }
  return *v;
}

Result<bool> Parser::Bool(const Field& f, const std::string& label) const {
  bool b = false;
  if (!f.value.IsScalar() || !YAML::convert<bool>::decode(f.value, b)) {
    return Err(At(f), label + " must be true or false, got " + Describe(f.value));
  }
  return b;
}

Result<std::string> Parser::Name(const Field& f, const std::string& label) const {
  if (!f.value.IsScalar() || f.value.Scalar().empty()) {
    return Err(At(f), label + " must be a non-empty name, got " + Describe(f.value));
  }
  return f.value.Scalar();
}

Result<double> Parser::Fraction(const Field& f, const std::string& label) const {
  std::optional<double> v;
  if (f.value.IsScalar()) v = ParseDouble(f.value.Scalar());
  if (!v || *v <= 0 || *v >= 1) {
    return Err(At(f), label + " must be a number strictly between 0 and 1 (e.g. 0.05), got " +
                          Describe(f.value));
  }
  return *v;
}

Result<Campaign> Parser::Parse(const std::string& text) {
  std::vector<YAML::Node> docs = YAML::LoadAll(text);
  if (docs.empty() || docs[0].IsNull()) {
    return Err(YAML::Mark(), "the campaign file is empty");
  }
  if (docs.size() > 1) {
    return Err(docs[1].Mark(), "a campaign file holds one YAML document, found a second one");
  }
  const YAML::Node& root = docs[0];
  if (!root.IsMap()) {
    return Err(root.Mark(), "a campaign must be a map of keys (name, devices, architectures, "
                            "...), got " + Describe(root));
  }
  WF_ASSIGN_OR_RETURN(std::vector<Field> fields,
                      Fields(root, "", {"name", "mode", "dtype", "batch_size", "devices",
                                        "measurement", "architectures", "plan", "estimators"}));

  Campaign c;
  const Field* name = Find(fields, "name");
  if (name == nullptr) return Err(root.Mark(), "name is required");
  {
    const YAML::Node& v = name->value;
    bool ok = v.IsScalar() && !v.Scalar().empty() &&
              std::all_of(v.Scalar().begin(), v.Scalar().end(), [](char ch) {
                return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' ||
                       ch == '.' || ch == '-';
              });
    if (!ok) {
      return Err(At(*name), "name must be non-empty and use only letters, digits, '_', '.' "
                            "and '-', got " + Describe(v));
    }
    c.name = v.Scalar();
  }
  if (const Field* f = Find(fields, "mode")) {
    std::optional<Mode> m;
    if (f->value.IsScalar()) m = ParseMode(f->value.Scalar());
    if (!m) return Err(At(*f), "mode must be 'inference' or 'training', got " + Describe(f->value));
    c.mode = *m;
  }
  if (const Field* f = Find(fields, "dtype")) {
    std::optional<DType> d;
    if (f->value.IsScalar()) d = ParseDType(f->value.Scalar());
    if (!d) {
      return Err(At(*f), "dtype must be one of float32, float16, bfloat16, got " +
                             Describe(f->value));
    }
    c.dtype = *d;
  }
  if (const Field* f = Find(fields, "batch_size")) {
    WF_ASSIGN_OR_RETURN(c.batch_size, Int(*f, "batch_size", 1));
  }
  const Field* devices = Find(fields, "devices");
  if (devices == nullptr) {
    return Err(root.Mark(), "devices is required (a list of selectors such as [{class: cpu}])");
  }
  WF_RETURN_IF_ERROR(ParseDevices(*devices, &c));
  if (const Field* f = Find(fields, "measurement")) {
    WF_RETURN_IF_ERROR(ParseMeasurement(*f, &c.measurement));
  }
  // The plan is checked before architectures so that a bad plan is reported without first
  // expanding (possibly large) sweeps, and so that ParseCampaignPlan can stop after it.
  if (const Field* f = Find(fields, "plan")) WF_RETURN_IF_ERROR(ParsePlan(*f, &c.plan));
  if (const Field* f = Find(fields, "estimators")) {
    WF_RETURN_IF_ERROR(ParseEstimators(*f, &c.estimators));
  }
  if (plan_only_) return c;
  const Field* archs = Find(fields, "architectures");
  if (archs == nullptr) {
    return Err(root.Mark(), "architectures is required (a list of zoo: or family: entries)");
  }
  WF_RETURN_IF_ERROR(ParseArchitectures(*archs, &c.architectures));
  c.source_path = path_;
  c.source_text = text;
  return c;
}

Status Parser::ParseDevices(const Field& f, Campaign* c) const {
  if (!f.value.IsSequence() || f.value.size() == 0) {
    return Err(At(f), "devices must be a non-empty list of selectors such as {class: cpu}, got " +
                          Describe(f.value));
  }
  for (size_t i = 0; i < f.value.size(); ++i) {
    const YAML::Node& item = f.value[i];
    const std::string label = "devices[" + std::to_string(i) + "]";
    if (!item.IsMap()) {
      return Err(item.Mark(), label + " must be a map such as {class: cpu}, got " +
                                  Describe(item));
    }
    WF_ASSIGN_OR_RETURN(std::vector<Field> fields,
                        Fields(item, label, {"class", "name", "accelerator", "sensor"}));
    DeviceSelector sel;
    const Field* cls = Find(fields, "class");
    if (cls == nullptr) return Err(item.Mark(), label + ".class is required");
    WF_ASSIGN_OR_RETURN(sel.device_class, Name(*cls, label + ".class"));
    if (const Field* g = Find(fields, "name")) {
      WF_ASSIGN_OR_RETURN(sel.name_glob, Name(*g, label + ".name"));
    }
    if (const Field* g = Find(fields, "accelerator")) {
      WF_ASSIGN_OR_RETURN(sel.accelerator, Name(*g, label + ".accelerator"));
    }
    if (const Field* g = Find(fields, "sensor")) {
      WF_ASSIGN_OR_RETURN(sel.sensor, Name(*g, label + ".sensor"));
    }
    c->devices.push_back(std::move(sel));
  }
  return Status::OK();
}

Status Parser::ParseMeasurement(const Field& f, MeasurementSettings* m) const {
  if (!f.value.IsMap()) {
    return Err(At(f), "measurement must be a map such as {warmup_ms: 200, min_window_ms: 500}, "
                      "got " + Describe(f.value));
  }
  WF_ASSIGN_OR_RETURN(std::vector<Field> fields,
                      Fields(f.value, "measurement",
                             {"warmup_ms", "min_window_ms", "target_rel_ci", "min_repeats",
                              "max_repeats", "cooldown_ms"}));
  struct IntKey {
    const char* name;
    int64_t min;
    int64_t* dest;
  };
  // min_window_ms 0 would make the window loop degenerate, and a CI needs a window at all.
  const IntKey ints[] = {{"warmup_ms", 0, &m->warmup_ms},
                         {"min_window_ms", 1, &m->min_window_ms},
                         {"min_repeats", 1, &m->min_repeats},
                         {"max_repeats", 1, &m->max_repeats},
                         {"cooldown_ms", 0, &m->cooldown_ms}};
  for (const IntKey& k : ints) {
    if (const Field* g = Find(fields, k.name)) {
      WF_ASSIGN_OR_RETURN(*k.dest, Int(*g, std::string("measurement.") + k.name, k.min));
    }
  }
  if (const Field* g = Find(fields, "target_rel_ci")) {
    WF_ASSIGN_OR_RETURN(m->target_rel_ci, Fraction(*g, "measurement.target_rel_ci"));
  }
  if (m->max_repeats < m->min_repeats) {
    const Field* max = Find(fields, "max_repeats");
    const Field* min = Find(fields, "min_repeats");
    const Field* at = max != nullptr ? max : min;
    return Err(At(*at), "measurement.max_repeats (" + std::to_string(m->max_repeats) +
                            (max == nullptr ? ", the default" : "") +
                            ") must be >= measurement.min_repeats (" +
                            std::to_string(m->min_repeats) + ")");
  }
  return Status::OK();
}

Status Parser::ParsePlan(const Field& f, PlanOptions* p) const {
  if (!f.value.IsMap()) {
    return Err(At(f), "plan must be a map such as {layers: distinct, whole_models: true}, got " +
                          Describe(f.value));
  }
  WF_ASSIGN_OR_RETURN(std::vector<Field> fields,
                      Fields(f.value, "plan", {"layers", "whole_models", "thor_probes", "active"}));
  if (const Field* g = Find(fields, "layers")) {
    const std::string v = g->value.IsScalar() ? g->value.Scalar() : "";
    if (v == "distinct") {
      p->distinct_layers = true;
    } else if (v == "all") {
      p->distinct_layers = false;
    } else {
      return Err(At(*g), "plan.layers must be 'distinct' or 'all', got " + Describe(g->value));
    }
  }
  if (const Field* g = Find(fields, "whole_models")) {
    WF_ASSIGN_OR_RETURN(p->whole_models, Bool(*g, "plan.whole_models"));
  }
  if (const Field* g = Find(fields, "thor_probes")) {
    if (g->value.IsMap()) {
      // {widths: [...]}: probes on, over the given grid.
      WF_ASSIGN_OR_RETURN(std::vector<Field> probe,
                          Fields(g->value, "plan.thor_probes", {"widths"}));
      p->thor_probes = true;
      if (const Field* w = Find(probe, "widths")) {
        const std::string label = "plan.thor_probes.widths";
        if (!w->value.IsSequence() || w->value.size() == 0 || w->value.size() > 32) {
          return Err(At(*w), label + " must be a list of 1 to 32 widths such as [8, 16, 32], got " +
                                 Describe(w->value));
        }
        p->probe_widths.clear();
        for (const YAML::Node& item : w->value) {
          std::optional<int64_t> v;
          if (item.IsScalar()) v = ParseInt(item.Scalar());
          if (!v || *v < 1 || *v > 65536) {
            return Err(item.Mark(), label + ": each width must be an integer in [1, 65536], got " +
                                        Describe(item));
          }
          if (std::find(p->probe_widths.begin(), p->probe_widths.end(), *v) !=
              p->probe_widths.end()) {
            return Err(item.Mark(), label + ": width " + std::to_string(*v) + " is listed twice");
          }
          p->probe_widths.push_back(*v);
        }
      }
    } else {
      WF_ASSIGN_OR_RETURN(p->thor_probes, Bool(*g, "plan.thor_probes"));
    }
  }
  if (const Field* g = Find(fields, "active")) {
    ActiveOptions active;
    WF_RETURN_IF_ERROR(ParseActive(*g, *p, &active));
    p->active = active;
  }
  return Status::OK();
}

// plan.active, checked against the probes it chooses from (`p` is the rest of the plan).
Status Parser::ParseActive(const Field& f, const PlanOptions& p, ActiveOptions* out) const {
  if (!f.value.IsMap()) {
    return Err(At(f), "plan.active must be a map such as {budget_jobs: 100, target_rel_std: "
                      "0.05}, got " + Describe(f.value));
  }
  WF_ASSIGN_OR_RETURN(std::vector<Field> fields,
                      Fields(f.value, "plan.active", {"budget_jobs", "target_rel_std", "aim"}));
  if (!p.thor_probes) {
    return Err(f.key.Mark(), "plan.active needs plan.thor_probes: it chooses which THOR probes "
                             "to measure");
  }
  // The seed must give each of THOR's GPs enough distinct widths to be fitted.
  if (p.probe_widths.size() < 3) {
    return Err(f.key.Mark(), "plan.active needs at least 3 widths in plan.thor_probes.widths, "
                             "got " + std::to_string(p.probe_widths.size()));
  }
  const Field* budget = Find(fields, "budget_jobs");
  if (budget == nullptr) {
    return Err(f.value.Mark(), "plan.active.budget_jobs is required (the most probe jobs per "
                               "kind and device class, seed included)");
  }
  WF_ASSIGN_OR_RETURN(out->budget_jobs, Int(*budget, "plan.active.budget_jobs", 1));
  const int64_t seed = static_cast<int64_t>(ActiveSeed(p.probe_widths).size());
  if (out->budget_jobs < seed) {
    return Err(At(*budget), "plan.active.budget_jobs (" + std::to_string(out->budget_jobs) +
                                ") must be at least " + std::to_string(seed) +
                                ", the seed probes of each kind");
  }
  if (const Field* g = Find(fields, "target_rel_std")) {
    WF_ASSIGN_OR_RETURN(out->target_rel_std, Fraction(*g, "plan.active.target_rel_std"));
  }
  if (const Field* g = Find(fields, "aim")) {
    const std::string aim = g->value.IsScalar() ? g->value.Scalar() : "";
    if (aim != "networks" && aim != "grid") {
      return Err(At(*g), "plan.active.aim must be 'networks' or 'grid', got " +
                             Describe(g->value));
    }
    out->aim = aim == "grid" ? ActiveOptions::Aim::kGrid : ActiveOptions::Aim::kNetworks;
  }
  return Status::OK();
}

Status Parser::ParseEstimators(const Field& f, std::vector<std::string>* out) const {
  if (!f.value.IsSequence()) {
    return Err(At(f), "estimators must be a list of names such as [macs, thor], got " +
                          Describe(f.value));
  }
  for (const YAML::Node& item : f.value) {
    const std::string name = item.IsScalar() ? item.Scalar() : "";
    const auto& known = KnownEstimators();
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string hint = Suggestion(name, known);
      return Err(item.Mark(), "unknown estimator " + Describe(item) + hint +
                                  "; known: " + Join(known));
    }
    if (std::find(out->begin(), out->end(), name) == out->end()) out->push_back(name);
  }
  return Status::OK();
}

Status Parser::ParseArchitectures(const Field& f, std::vector<Architecture>* out) const {
  if (!f.value.IsSequence() || f.value.size() == 0) {
    return Err(At(f), "architectures must be a non-empty list of zoo: or family: entries, got " +
                          Describe(f.value));
  }
  std::vector<Architecture> all;
  for (size_t i = 0; i < f.value.size(); ++i) {
    WF_RETURN_IF_ERROR(
        ParseEntry(f.value[i], "architectures[" + std::to_string(i) + "]", &all));
  }
  // The same architecture named twice (e.g. lenet5 in the zoo and as a sweep point) would be
  // measured twice for nothing: keep the first.
  std::set<std::string> seen;
  for (auto& a : all) {
    if (seen.insert(a.name).second) out->push_back(std::move(a));
  }
  return Status::OK();
}

Status Parser::ParseEntry(const YAML::Node& entry, const std::string& label,
                          std::vector<Architecture>* out) const {
  if (!entry.IsMap()) {
    return Err(entry.Mark(), label + " must be a map with one of zoo, family or torchscript, got " +
                                 Describe(entry));
  }
  WF_ASSIGN_OR_RETURN(std::vector<Field> fields,
                      Fields(entry, label,
                             {"zoo", "family", "sweep", "torchscript", "input_shape"}));
  std::vector<std::string> kinds;
  for (const char* k : {"zoo", "family", "torchscript"}) {
    if (Find(fields, k) != nullptr) kinds.push_back(k);
  }
  if (kinds.size() != 1) {
    return Err(entry.Mark(), label + " takes exactly one of zoo, family or torchscript" +
                                 (kinds.empty() ? std::string() : ", got " + Join(kinds)));
  }
  const std::string kind = kinds[0];
  const Field* sweep = Find(fields, "sweep");
  const Field* shape = Find(fields, "input_shape");
  if (sweep != nullptr && kind != "family") {
    return Err(sweep->key.Mark(), label + ": sweep goes with family, not " + kind);
  }
  if (shape != nullptr && kind != "torchscript") {
    return Err(shape->key.Mark(), label + ": input_shape goes with torchscript, not " + kind);
  }

  if (kind == "torchscript") return ParseTorchScript(entry, fields, label, out);
  if (kind == "zoo") {
    WF_ASSIGN_OR_RETURN(std::string name, Name(*Find(fields, "zoo"), label + ".zoo"));
    Result<Architecture> arch = FindZooArchitecture(name);
    if (!arch.ok()) return Err(entry.Mark(), "zoo '" + name + "': " + arch.status().message());
    out->push_back(std::move(arch).value());
    return Status::OK();
  }
  return ParseFamily(entry, fields, label, out);
}

// `torchscript: FILE` with `input_shape`: the shape the model was traced with, batch first
// (what was passed to torch.jit.trace); the batch dimension is dropped because the campaign's
// batch_size decides it. A relative FILE is relative to the campaign file's directory.
Status Parser::ParseTorchScript(const YAML::Node& entry, const std::vector<Field>& fields,
                                const std::string& label, std::vector<Architecture>* out) const {
  const Field& file_field = *Find(fields, "torchscript");
  WF_ASSIGN_OR_RETURN(std::string file, Name(file_field, label + ".torchscript"));
  const Field* shape = Find(fields, "input_shape");
  if (shape == nullptr) {
    return Err(entry.Mark(), label + ": torchscript needs input_shape, the traced input's shape "
                                     "with its batch dimension, e.g. [1, 3, 224, 224]");
  }
  Shape traced;
  if (shape->value.IsSequence()) {
    for (const YAML::Node& d : shape->value) {
      std::optional<int64_t> v;
      if (d.IsScalar()) v = ParseInt(d.Scalar());
      if (!v || *v < 1) {
        return Err(d.Mark(), label + ".input_shape: dimensions must be integers >= 1, got " +
                                 Describe(d));
      }
      traced.push_back(*v);
    }
  }
  if (traced.size() < 2) {
    return Err(At(*shape), label + ".input_shape must list the batch and at least one more "
                                   "dimension, e.g. [1, 3, 224, 224], got " +
                               Describe(shape->value));
  }
  std::filesystem::path path(file);
  if (path.is_relative()) path = std::filesystem::path(path_).parent_path() / path;
  // The file name, extension included, so that an imported resnet18.pt never shadows the zoo's
  // resnet18 (architectures are deduplicated by name).
  const std::string name = std::filesystem::path(file).filename().string();
  Result<TorchScriptImport> imported =
      ImportTorchScript(path.string(), Shape(traced.begin() + 1, traced.end()), name);
  if (!imported.ok()) return Err(At(file_field), imported.status().message());
  if (!imported->unsupported.empty()) {
    // A partial import would measure a different network under the model's name.
    return Err(At(file_field), "torchscript '" + file + "' uses operators wattfleet cannot map: " +
                                   Join(imported->unsupported));
  }
  out->push_back(std::move(imported->architecture));
  return Status::OK();
}

Result<std::vector<SweepValue>> Parser::SweepValues(const Field& f,
                                                    const std::string& label) const {
  // `input` takes shapes: [1, 28, 28] is one shape, [[1, 28, 28], [3, 32, 32]] two. Other
  // parameters take integers: [2, 3] is two values.
  const bool shapes = f.name == "input";
  const std::string expect =
      shapes ? " must be a shape such as [1, 28, 28], a list of shapes such as "
               "[[1, 28, 28], [3, 32, 32]], or an integer"
             : " must be an integer or a list of integers such as [2, 3]";
  auto bad = [&](const YAML::Node& at) {
    return Err(at.IsNull() ? f.key.Mark() : at.Mark(), label + expect + ", got " + Describe(at));
  };
  auto scalar = [&](const YAML::Node& n) -> std::optional<int64_t> {
    return n.IsScalar() ? ParseInt(n.Scalar()) : std::nullopt;
  };
  auto shape = [&](const YAML::Node& n) -> Result<SweepValue> {
    SweepValue v;
    v.is_list = true;
    if (n.size() == 0) return bad(n);
    for (const YAML::Node& d : n) {
      std::optional<int64_t> x = scalar(d);
      if (!x) return bad(d);
      v.values.push_back(*x);
    }
    return v;
  };

  std::vector<SweepValue> out;
  const YAML::Node& v = f.value;
  if (v.IsScalar()) {
    std::optional<int64_t> x = scalar(v);
    if (!x) return bad(v);
    out.push_back(SweepValue{{*x}, false});
    return out;
  }
  if (!v.IsSequence()) return bad(v);
  if (v.size() == 0) return Err(v.Mark(), label + " has no values");
  if (shapes && v[0].IsScalar()) {
    WF_ASSIGN_OR_RETURN(SweepValue one, shape(v));
    out.push_back(std::move(one));
    return out;
  }
  for (const YAML::Node& item : v) {
    if (shapes) {
      if (!item.IsSequence()) return bad(item);
      WF_ASSIGN_OR_RETURN(SweepValue s, shape(item));
      out.push_back(std::move(s));
    } else {
      std::optional<int64_t> x = scalar(item);
      if (!x) return bad(item);
      out.push_back(SweepValue{{*x}, false});
    }
  }
  return out;
}

std::string PointToString(const SweepPoint& point) {
  std::string out;
  for (const auto& [name, v] : point) {
    out += (out.empty() ? "" : " ") + name + "=";
    if (v.is_list) {
      out += ShapeToString(v.values);
    } else {
      out += v.values.empty() ? "?" : std::to_string(v.values[0]);
    }
  }
  return out;
}

Status Parser::ParseFamily(const YAML::Node& entry, const std::vector<Field>& fields,
                           const std::string& label, std::vector<Architecture>* out) const {
  const Field& fam_field = *Find(fields, "family");
  WF_ASSIGN_OR_RETURN(std::string family, Name(fam_field, label + ".family"));
  const std::vector<std::string> families = FamilyNames();
  if (std::find(families.begin(), families.end(), family) == families.end()) {
    return Err(At(fam_field), "unknown family '" + family + "'" + Suggestion(family, families) +
                                  "; known: " + Join(families));
  }

  // Parameter name -> its values, in file order.
  std::vector<std::pair<std::string, std::vector<SweepValue>>> axes;
  if (const Field* sweep = Find(fields, "sweep")) {
    if (!sweep->value.IsMap()) {
      return Err(At(*sweep), label + ".sweep must be a map of parameter: values such as "
                                 "{depth: [2, 3]}, got " + Describe(sweep->value));
    }
    std::vector<std::string> params;
    for (const auto& [name, help] : FamilyParameters(family)) params.push_back(name);
    std::vector<Field> sweep_fields;
    for (auto it = sweep->value.begin(); it != sweep->value.end(); ++it) {
      const std::string name = it->first.IsScalar() ? it->first.Scalar() : "";
      if (std::find(params.begin(), params.end(), name) == params.end()) {
        return Err(it->first.Mark(), "unknown sweep parameter " + Describe(it->first) +
                                         " for family '" + family + "'" +
                                         Suggestion(name, params) +
                                         "; parameters: " + Join(params));
      }
      if (Find(sweep_fields, name) != nullptr) {
        return Err(it->first.Mark(), "duplicate sweep parameter '" + name + "'");
      }
      sweep_fields.push_back(Field{name, it->first, it->second});
    }
    for (const Field& p : sweep_fields) {
      WF_ASSIGN_OR_RETURN(std::vector<SweepValue> values,
                          SweepValues(p, label + ".sweep." + p.name));
      axes.emplace_back(p.name, std::move(values));
    }
  }
  int64_t points = 1;
  for (const auto& axis : axes) {
    points *= static_cast<int64_t>(axis.second.size());
    if (points > kMaxSweepPoints) {
      return Err(entry.Mark(), label + ": the sweep expands to more than " +
                                   std::to_string(kMaxSweepPoints) + " architectures");
    }
  }

  // Cartesian product, odometer style: the last parameter in the file varies fastest.
  std::vector<size_t> index(axes.size(), 0);
  for (int64_t n = 0; n < points; ++n) {
    SweepPoint point;
    for (size_t a = 0; a < axes.size(); ++a) point[axes[a].first] = axes[a].second[index[a]];
    Result<Architecture> arch = BuildFamilyMember(family, point);
    if (!arch.ok()) {
      return Err(entry.Mark(), "family '" + family + "' at " +
                                   (point.empty() ? std::string("its defaults")
                                                  : PointToString(point)) +
                                   ": " + arch.status().message());
    }
    out->push_back(std::move(arch).value());
    for (size_t a = axes.size(); a-- > 0;) {
      if (++index[a] < axes[a].second.size()) break;
      index[a] = 0;
    }
  }
  return Status::OK();
}

}  // namespace

Result<Campaign> ParseCampaign(const std::string& yaml_text, const std::string& path) {
  Parser parser(path);
  try {
    return parser.Parse(yaml_text);
  } catch (const YAML::Exception& e) {
    std::string msg = e.msg.empty() ? std::string(e.what()) : e.msg;
    if (e.mark.is_null()) return Status::InvalidArgument(path + ": YAML error: " + msg);
    return Status::InvalidArgument(path + ":" + std::to_string(e.mark.line + 1) + ":" +
                                   std::to_string(e.mark.column + 1) + ": YAML error: " + msg);
  } catch (const std::exception& e) {
    // The zoo and the layer model return Status, but a bad_alloc from a huge shape must not
    // take the controller down either.
    return Status::InvalidArgument(path + ": cannot parse campaign: " + e.what());
  }
}

Result<PlanOptions> ParseCampaignPlan(const std::string& yaml_text, const std::string& path) {
  Parser parser(path, /*plan_only=*/true);
  try {
    WF_ASSIGN_OR_RETURN(Campaign c, parser.Parse(yaml_text));
    return c.plan;
  } catch (const std::exception& e) {
    return Status::InvalidArgument(path + ": cannot parse campaign: " + e.what());
  }
}

Result<Campaign> LoadCampaignFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Status::InvalidArgument(path + ": cannot read file (it is a directory)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument(path + ": cannot read file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::InvalidArgument(path + ": cannot read file");
  return ParseCampaign(text.str(), path);
}

}  // namespace wattfleet
