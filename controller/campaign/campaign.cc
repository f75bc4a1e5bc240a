// Campaign parsing and validation (schema in docs/campaign.md).
//
// The parser walks the YAML tree by hand instead of converting with yaml-cpp's `as<T>()`:
// every error must name file:line:column and the key, which conversions cannot do, and
// unknown keys must be rejected rather than ignored (a typo like `batchsize` would otherwise
// silently measure with the default).
#include "wattfleet/campaign/campaign.h"

#include "wattfleet/campaign/estimator_catalog.h"

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

#include "wattfleet/campaign/active_grid.h"
#include "campaign_parser.h"
#include "wattfleet/common/text.h"
#include "wattfleet/zoo/torchscript_import.h"
#include "wattfleet/zoo/zoo.h"
#include "wattfleet/common/peer_text.h"

namespace wattfleet {
namespace campaign_detail {

// What a node holds, for "got ..." in messages.
std::string Describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar: {
      // A message quotes at most the start of a value: a 1 MB name must not become a 1 MB
      // error.
      constexpr size_t kShown = 60;
      const std::string& v = n.Scalar();
      // A double-quoted value that swallowed the following keys: its closing quote is missing.
      const std::string hint =
          n.Tag() == "!" && v.find(": ") != std::string::npos ? " (is a closing quote missing?)"
                                                              : "";
      // Control characters (a NUL, an escape) are shown, not printed.
      if (v.size() <= kShown) return "'" + Escaped(v) + "'" + hint;
      return "'" + Escaped(v.substr(0, kShown)) + "…' (" + std::to_string(v.size()) +
             " characters)" + hint;
    }
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a map";
    default: return "nothing";
  }
}

namespace {

const std::vector<std::string>& KnownEstimators() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (const EstimatorInfo& e : kEstimatorCatalog) names.emplace_back(e.name);
    return names;
  }();
  return kNames;
}

}  // namespace

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

Result<int64_t> Parser::Int(const Field& f, const std::string& label, int64_t min,
                            int64_t max) const {
  std::optional<int64_t> v;
  if (f.value.IsScalar()) v = ParseInt(f.value.Scalar());
  if (!v || *v < min || *v > max) {
    return Err(At(f), label + " must be an integer in [" + std::to_string(min) + ", " +
                          std::to_string(max) + "], got " + Describe(f.value));
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
  const std::string& v = f.value.Scalar();
  // Names reach logs, terminals and file paths: bounded, and no control characters.
  if (v.size() > kMaxNameLength ||
      std::any_of(v.begin(), v.end(), [](char ch) {
        const auto u = static_cast<unsigned char>(ch);
        return u < 0x20 || u == 0x7f;
      })) {
    return Err(At(f), label + " must be a name of at most " + std::to_string(kMaxNameLength) +
                          " printable characters, got " + Describe(f.value));
  }
  return v;
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
                                        "measurement", "architectures", "plan", "estimators",
                                        "optimizer", "loss"}));

  Campaign c;
  const Field* name = Find(fields, "name");
  if (name == nullptr) return Err(root.Mark(), "name is required");
  WF_RETURN_IF_ERROR(ParseName(*name, &c));
  WF_RETURN_IF_ERROR(ParseHowItRuns(fields, &c));
  if (const Field* f = Find(fields, "batch_size")) WF_RETURN_IF_ERROR(ParseBatchSizes(*f, &c));
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

Status Parser::ParseName(const Field& f, Campaign* c) const {
  const YAML::Node& v = f.value;
  const bool ok = v.IsScalar() && !v.Scalar().empty() &&
                  v.Scalar().size() <= kMaxCampaignNameLength &&
                  std::all_of(v.Scalar().begin(), v.Scalar().end(), [](char ch) {
                    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' ||
                           ch == '.' || ch == '-';
                  });
  if (!ok) {
    return Err(At(f), "name must be 1 to " + std::to_string(kMaxCampaignNameLength) +
                          " letters, digits, '_', '.' and '-', got " + Describe(v));
  }
  c->name = v.Scalar();
  return Status::OK();
}

// mode, and what runs with it: a training step's optimiser and loss, the dtype.
Status Parser::ParseHowItRuns(const std::vector<Field>& fields, Campaign* c) const {
  WF_RETURN_IF_ERROR(EnumField(fields, "mode", ParseMode, "'inference' or 'training'", &c->mode));
  // What a training step runs beyond the network (training_step.h). In inference they would
  // mean nothing, and a campaign that names them expects them to be measured.
  const Field* f = nullptr;
  WF_RETURN_IF_ERROR(EnumField(fields, "optimizer", ParseOptimizer,
                               "one of sgd, sgd-momentum, adam, adamw", &c->optimizer, &f));
  if (f != nullptr && c->mode != Mode::kTraining) {
    return Err(At(*f), "optimizer needs mode: training");
  }
  WF_RETURN_IF_ERROR(
      EnumField(fields, "loss", ParseLoss, "'cross-entropy' or 'mse'", &c->loss, &f));
  if (f != nullptr && c->mode != Mode::kTraining) return Err(At(*f), "loss needs mode: training");
  WF_RETURN_IF_ERROR(EnumField(fields, "dtype", ParseDType, "one of float32, float16, bfloat16",
                               &c->dtype));
  return Status::OK();
}

// One batch or a sweep of them: every architecture is planned at each.
Status Parser::ParseBatchSizes(const Field& field, Campaign* c) const {
  const Field* f = &field;
  if (f->value.IsSequence()) {
    if (f->value.size() == 0 || f->value.size() > kMaxBatchSizes) {
      return Err(At(*f), "batch_size must be an integer or a list of 1 to " +
                             std::to_string(kMaxBatchSizes) + " integers such as [1, 8, 32], got " +
                             Describe(f->value));
    }
    c->batch_sizes.clear();
    for (const YAML::Node& item : f->value) {
      std::optional<int64_t> v;
      if (item.IsScalar()) v = ParseInt(item.Scalar());
      if (!v || *v < 1 || *v > kMaxBatchSize) {
        return Err(item.Mark(), "batch_size: each batch must be an integer in [1, " +
                                    std::to_string(kMaxBatchSize) + "], got " + Describe(item));
      }
      if (std::find(c->batch_sizes.begin(), c->batch_sizes.end(), *v) != c->batch_sizes.end()) {
        return Err(item.Mark(), "batch_size: batch " + std::to_string(*v) + " is listed twice");
      }
      c->batch_sizes.push_back(*v);
    }
  } else {
    WF_ASSIGN_OR_RETURN(const int64_t b, Int(*f, "batch_size", 1, kMaxBatchSize));
    c->batch_sizes = {b};
  }
  c->batch_size = c->batch_sizes.front();
  return Status::OK();
}

Status Parser::ParseDevices(const Field& f, Campaign* c) const {
  if (!f.value.IsSequence() || f.value.size() == 0) {
    return Err(At(f), "devices must be a non-empty list of selectors such as {class: cpu}, got " +
                          Describe(f.value));
  }
  if (f.value.size() > kMaxDeviceSelectors) {
    return Err(f.value[kMaxDeviceSelectors].Mark(),
               "devices: at most " + std::to_string(kMaxDeviceSelectors) + " selectors (each "
               "device class measures every job again), got " + std::to_string(f.value.size()));
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
                              "max_repeats", "cooldown_ms", "max_interference"}));
  struct IntKey {
    const char* name;
    int64_t min, max;
    int64_t* dest;
  };
  // min_window_ms 0 would make the window loop degenerate, and a CI needs a window at all.
  // The upper bounds are what a real measurement could want (an hour of warm-up, ten-minute
  // windows, a thousand repeats); past them the lease arithmetic would overflow.
  constexpr int64_t kHourMs = 3'600'000;
  const IntKey ints[] = {{"warmup_ms", 0, kHourMs, &m->warmup_ms},
                         {"min_window_ms", 1, kHourMs / 6, &m->min_window_ms},
                         {"min_repeats", 1, 1000, &m->min_repeats},
                         {"max_repeats", 1, 1000, &m->max_repeats},
                         {"cooldown_ms", 0, kHourMs, &m->cooldown_ms}};
  for (const IntKey& k : ints) {
    if (const Field* g = Find(fields, k.name)) {
      WF_ASSIGN_OR_RETURN(*k.dest, Int(*g, std::string("measurement.") + k.name, k.min, k.max));
    }
  }
  if (const Field* g = Find(fields, "target_rel_ci")) {
    WF_ASSIGN_OR_RETURN(m->target_rel_ci, Fraction(*g, "measurement.target_rel_ci"));
  }
  if (const Field* g = Find(fields, "max_interference")) {
    // Cores (or GPUs) kept busy by other work: 0 refuses any (coarse tick accounting makes
    // that strict), and no machine has more cores than this.
    std::optional<double> v;
    if (g->value.IsScalar()) v = ParseDouble(g->value.Scalar());
    if (!v || *v < 0 || *v > 4096) {
      return Err(At(*g), "measurement.max_interference must be a number of cores (GPUs for "
                         "nvml) in [0, 4096] (e.g. 0.25), got " + Describe(g->value));
    }
    m->max_interference = *v;
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
    } else if (v == "none") {
      p->layers = false;
    } else {
      return Err(At(*g), "plan.layers must be 'distinct', 'all' or 'none', got " +
                             Describe(g->value));
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
  WF_ASSIGN_OR_RETURN(out->budget_jobs, Int(*budget, "plan.active.budget_jobs", 1, 100'000));
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

}  // namespace campaign_detail

using campaign_detail::Parser;

Result<Campaign> ParseCampaign(const std::string& yaml_text, const std::string& path) {
  if (yaml_text.size() > kMaxCampaignBytes) {
    return Status::InvalidArgument(path + ": " + std::to_string(yaml_text.size()) +
                                   " bytes; a campaign file is at most " +
                                   std::to_string(kMaxCampaignBytes) + " bytes");
  }
  // The YAML reader takes a NUL byte for a line break, which would shift every position
  // after it: a binary or damaged file is named at the byte itself.
  if (const size_t nul = yaml_text.find('\0'); nul != std::string::npos) {
    const size_t line = 1 + std::count(yaml_text.begin(), yaml_text.begin() + nul, '\n');
    const size_t start = yaml_text.rfind('\n', nul);
    const size_t column = nul - (start == std::string::npos ? 0 : start + 1) + 1;
    return Status::InvalidArgument(path + ":" + std::to_string(line) + ":" +
                                   std::to_string(column) +
                                   ": a NUL byte (is this a text file?)");
  }
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
  // Refused before it is read into memory.
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > kMaxCampaignBytes) {
    return Status::InvalidArgument(path + ": " + std::to_string(size) +
                                   " bytes; a campaign file is at most " +
                                   std::to_string(kMaxCampaignBytes) + " bytes");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument(path + ": cannot read file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::InvalidArgument(path + ": cannot read file");
  return ParseCampaign(text.str(), path);
}

}  // namespace wattfleet
