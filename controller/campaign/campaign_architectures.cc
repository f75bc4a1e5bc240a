// Campaign parsing: the architectures of a campaign (schema in docs/campaign.md,
// "architectures"): zoo names, parametric families with their sweeps, model files
// (TorchScript, ONNX: one key per format of model_formats.h).
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>

#include "campaign_parser.h"
#include "wattfleet/common/text.h"
#include "wattfleet/common/protocol.h"
#include "wattfleet/common/sha256.h"
#include "wattfleet/zoo/model_formats.h"
#include "wattfleet/zoo/zoo.h"

namespace wattfleet::campaign_detail {

Status Parser::ParseArchitectures(const Field& f, std::vector<Architecture>* out) const {
  if (!f.value.IsSequence() || f.value.size() == 0) {
    return Err(At(f), "architectures must be a non-empty list of zoo: or family: entries, got " +
                          Describe(f.value));
  }
  std::vector<Architecture> all;
  int64_t layers = 0;
  for (size_t i = 0; i < f.value.size(); ++i) {
    const std::string label = "architectures[" + std::to_string(i) + "]";
    // Entries that each add one architecture (3 million `- zoo:` lines) stop here.
    if (static_cast<int64_t>(all.size()) >= kMaxCampaignArchitectures) {
      return Err(f.value[i].Mark(), label + ": the campaign has more than " +
                                        std::to_string(kMaxCampaignArchitectures) +
                                        " architectures");
    }
    const size_t before = all.size();
    WF_RETURN_IF_ERROR(ParseEntry(f.value[i], label, &all));
    for (size_t a = before; a < all.size(); ++a) {
      layers += static_cast<int64_t>(all[a].nodes.size());
    }
    if (layers > kMaxCampaignLayers) {
      return Err(f.value[i].Mark(), label + ": the campaign's architectures have more than " +
                                        std::to_string(kMaxCampaignLayers) +
                                        " layers together");
    }
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
  std::vector<std::string> keys = {"zoo", "family"};
  for (const ModelFormat& format : ModelFormats()) keys.push_back(format.name);
  std::string choices;
  for (size_t i = 0; i < keys.size(); ++i) {
    choices += (i == 0 ? "" : i + 1 == keys.size() ? " or " : ", ") + keys[i];
  }
  if (!entry.IsMap()) {
    return Err(entry.Mark(), label + " must be a map with one of " + choices + ", got " +
                                 Describe(entry));
  }
  std::vector<std::string> allowed = keys;
  allowed.insert(allowed.end(), {"sweep", "input_shape"});
  WF_ASSIGN_OR_RETURN(std::vector<Field> fields, Fields(entry, label, allowed));
  std::vector<std::string> kinds;
  for (const std::string& k : keys) {
    if (Find(fields, k.c_str()) != nullptr) kinds.push_back(k);
  }
  if (kinds.size() != 1) {
    return Err(entry.Mark(), label + " takes exactly one of " + choices +
                                 (kinds.empty() ? std::string() : ", got " + Join(kinds)));
  }
  const std::string kind = kinds[0];
  const ModelFormat* format = FindModelFormat(kind);
  const Field* sweep = Find(fields, "sweep");
  const Field* shape = Find(fields, "input_shape");
  if (sweep != nullptr && kind != "family") {
    return Err(sweep->key.Mark(), label + ": sweep goes with family, not " + kind);
  }
  if (shape != nullptr && format == nullptr) {
    return Err(shape->key.Mark(),
               label + ": input_shape goes with " + ModelFormatNames() + ", not " + kind);
  }

  if (format != nullptr) return ParseModelFile(*format, entry, fields, label, out);
  if (kind == "zoo") {
    WF_ASSIGN_OR_RETURN(std::string name, Name(*Find(fields, "zoo"), label + ".zoo"));
    Result<Architecture> arch = FindZooArchitecture(name);
    if (!arch.ok()) return Err(entry.Mark(), "zoo '" + name + "': " + arch.status().message());
    out->push_back(std::move(arch).value());
    return Status::OK();
  }
  return ParseFamily(entry, fields, label, out);
}

// `torchscript: FILE` with `input_shape` (the shape the model was traced with, batch first:
// what was passed to torch.jit.trace), or `onnx: FILE` with an optional `input_shape` (the
// file declares its own; needed where it leaves a dimension free). The batch dimension is
// dropped because the campaign's batch_size decides it. A relative FILE is relative to the
// campaign file's directory.
Status Parser::ParseModelFile(const ModelFormat& format, const YAML::Node& entry,
                              const std::vector<Field>& fields, const std::string& label,
                              std::vector<Architecture>* out) const {
  const std::string key = format.name;
  const Field& file_field = *Find(fields, format.name);
  WF_ASSIGN_OR_RETURN(std::string file, Name(file_field, label + "." + key));
  const Field* shape = Find(fields, "input_shape");
  if (shape == nullptr && format.shape_required) {
    return Err(entry.Mark(), label + ": " + key + " needs input_shape, the traced input's shape "
                                     "with its batch dimension, e.g. [1, 3, 224, 224]");
  }
  Shape declared;
  if (shape != nullptr) {
    if (shape->value.IsSequence()) {
      for (const YAML::Node& d : shape->value) {
        std::optional<int64_t> v;
        if (d.IsScalar()) v = ParseInt(d.Scalar());
        if (!v || *v < 1) {
          return Err(d.Mark(), label + ".input_shape: dimensions must be integers >= 1, got " +
                                   Describe(d));
        }
        declared.push_back(*v);
      }
    }
    if (declared.size() < 2) {
      return Err(At(*shape), label + ".input_shape must list the batch and at least one more "
                                     "dimension, e.g. [1, 3, 224, 224], got " +
                                 Describe(shape->value));
    }
  }
  std::filesystem::path path(file);
  if (path.is_relative()) path = std::filesystem::path(path_).parent_path() / path;
  // The file name, extension included, so that an imported resnet18.pt never shadows the zoo's
  // resnet18 (architectures are deduplicated by name).
  const std::string name = std::filesystem::path(file).filename().string();
  Result<ModelImport> imported = format.import(path.string(), declared, name);
  if (!imported.ok()) return Err(At(file_field), imported.status().message());
  if (!imported->unsupported.empty()) {
    // A partial import would measure a different network under the model's name.
    return Err(At(file_field), key + " '" + file + "' uses operators wattfleet cannot map: " +
                                   Join(imported->unsupported));
  }
  Architecture arch = std::move(imported->architecture);
  if (!format.runs_whole) {  // whole-model jobs run the mapped layers
    out->push_back(std::move(arch));
    return Status::OK();
  }
  // Whole-model jobs run the file itself (the layers are priced from the graph); agents fetch
  // it from the controller and check their copy against this checksum.
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  Result<std::string> sha = Sha256OfFile(absolute.string());
  const auto bytes = std::filesystem::file_size(absolute, ec);
  if (!sha.ok() || ec) {
    return Err(At(file_field), key + " '" + file + "': " +
                                   (sha.ok() ? ec.message() : sha.status().message()));
  }
  if (static_cast<int64_t>(bytes) > kMaxModelFileBytes) {
    return Err(At(file_field), key + " '" + file + "' is larger than the " +
                                   std::to_string(kMaxModelFileBytes >> 30) +
                                   " GiB a job may carry");
  }
  arch.model_file = ModelFile{key, absolute.lexically_normal().string(),
                              std::move(sha).value(), static_cast<int64_t>(bytes)};
  out->push_back(std::move(arch));
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
  // Checked before the points are built: entries together stay within the campaign's bound.
  if (static_cast<int64_t>(out->size()) + points > kMaxCampaignArchitectures) {
    return Err(entry.Mark(), label + ": its " + std::to_string(points) +
                                 " architectures take the campaign past " +
                                 std::to_string(kMaxCampaignArchitectures));
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

}  // namespace wattfleet::campaign_detail
