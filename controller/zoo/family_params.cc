// The families' parameters, read from families.yaml (embedded by the build), and the check of
// a sweep point against them (zoo_registry.h).
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string_view>

#include "wattfleet/common/text.h"
#include "zoo_registry.h"

namespace wattfleet::zoo {

extern const std::string_view kFamiliesYaml;  // families.cc, generated from families.yaml

namespace {

std::string JoinInts(const std::vector<int64_t>& values) {
  std::vector<std::string> parts;
  for (int64_t v : values) parts.push_back(std::to_string(v));
  return Join(parts);
}

// "(default 224; 32 to 1024)": the help line says what the check enforces, from the same
// numbers.
std::string Describe(const ParamInfo& p, const std::string& default_text) {
  std::string out = p.required ? "required" : "default " + default_text;
  if (!p.choices.empty()) {
    out += "; one of " + JoinInts(p.choices);
  } else if (!p.shape) {
    out += "; " + std::to_string(p.min) + " to " + std::to_string(p.max);
  }
  return p.help + " (" + out + ")";
}

ParamInfo ParseParam(const YAML::Node& node) {
  ParamInfo p;
  p.name = node["name"].as<std::string>();
  p.help = node["help"].as<std::string>();
  if (node["min"]) p.min = node["min"].as<int64_t>();
  if (node["max"]) p.max = node["max"].as<int64_t>();
  if (node["choices"]) p.choices = node["choices"].as<std::vector<int64_t>>();
  p.shape = node["shape"] && node["shape"].as<bool>();
  std::string default_text;
  if (const YAML::Node d = node["default"]; !d) {
    p.required = true;
  } else if (int64_t v = 0; YAML::convert<int64_t>::decode(d, v)) {
    p.fallback = v;
    default_text = std::to_string(v);
  } else {
    default_text = d.as<std::string>();  // derived by the builder
  }
  p.help = Describe(p, default_text);
  return p;
}

// The table is part of the program: a malformed one is a build defect, caught by the zoo's
// tests, which read every family.
const std::map<std::string, std::vector<ParamInfo>>& Table() {
  static const auto kTable = [] {
    std::map<std::string, std::vector<ParamInfo>> table;
    const YAML::Node doc = YAML::Load(std::string(kFamiliesYaml));
    for (const auto& family : doc["families"]) {
      auto& params = table[family.first.as<std::string>()];
      for (const auto& param : family.second) params.push_back(ParseParam(param));
    }
    return table;
  }();
  return kTable;
}

Status CheckScalar(const PointReader& r, const ParamInfo& p, const SweepValue& v) {
  if (v.is_list || v.values.size() != 1) {
    return r.Bad(p.name, "must be an integer, got a list " + ShapeToString(v.values));
  }
  const int64_t x = v.values[0];
  if (!p.choices.empty()) {
    if (std::find(p.choices.begin(), p.choices.end(), x) == p.choices.end()) {
      return r.Bad(p.name, "must be one of " + JoinInts(p.choices) + ", got " + std::to_string(x));
    }
  } else if (x < p.min || x > p.max) {
    return r.Bad(p.name, "must be in [" + std::to_string(p.min) + ", " + std::to_string(p.max) +
                             "], got " + std::to_string(x));
  }
  return Status::OK();
}

Status CheckShape(const PointReader& r, const ParamInfo& p, const SweepValue& v) {
  if (v.values.empty()) return r.Bad(p.name, "is empty");
  constexpr int64_t kMaxDim = kMaxWidth * 64;
  for (int64_t d : v.values) {
    if (d < 1 || d > kMaxDim) {
      return r.Bad(p.name, "has a dimension outside [1, " + std::to_string(kMaxDim) +
                               "]: " + ShapeToString(v.values));
    }
  }
  return Status::OK();
}

}  // namespace

const std::vector<ParamInfo>& DeclaredParams(const std::string& family) {
  static const std::vector<ParamInfo> kNone;
  auto it = Table().find(family);
  return it == Table().end() ? kNone : it->second;
}

std::vector<std::string> DeclaredFamilies() {
  std::vector<std::string> names;
  for (const auto& [name, params] : Table()) names.push_back(name);
  return names;
}

Result<PointReader> PointReader::Read(const std::string& family, const SweepPoint& point) {
  const std::vector<ParamInfo>& params = DeclaredParams(family);
  PointReader r(family, point, params);
  for (const auto& [name, value] : point) {
    if (r.Param(name) != nullptr) continue;
    std::vector<std::string> names;
    for (const auto& p : params) names.push_back(p.name);
    return Status::InvalidArgument("family '" + family + "': unknown parameter '" + name +
                                   "' (parameters: " + Join(names) + ")");
  }
  for (const ParamInfo& p : params) {
    auto it = point.find(p.name);
    if (it == point.end()) {
      if (p.required) return r.Bad(p.name, "is required");
      continue;
    }
    WF_RETURN_IF_ERROR(p.shape ? CheckShape(r, p, it->second) : CheckScalar(r, p, it->second));
  }
  return r;
}

const ParamInfo* PointReader::Param(const std::string& name) const {
  for (const ParamInfo& p : *params_) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

int64_t PointReader::Int(const std::string& name, int64_t derived) const {
  const ParamInfo* p = Param(name);
  if (p == nullptr || p->shape) {
    throw std::logic_error("zoo family '" + family_ + "' reads '" + name +
                           "', which families.yaml does not declare as an integer");
  }
  if (auto it = point_.find(name); it != point_.end()) return it->second.values[0];
  return p->fallback.value_or(derived);
}

Shape PointReader::ShapeOf(const std::string& name) const {
  auto it = point_.find(name);
  if (it == point_.end()) {
    throw std::logic_error("zoo family '" + family_ + "' reads shape '" + name +
                           "', which families.yaml does not declare as required");
  }
  return Shape(it->second.values);
}

Status PointReader::Divides(const std::string& name, const std::string& of) const {
  const int64_t n = Int(name), m = Int(of);
  if (m % n == 0) return Status::OK();
  return Bad(name, std::to_string(n) + " does not divide " + of + " " + std::to_string(m));
}

Status PointReader::Bad(const std::string& name, const std::string& what) const {
  return Status::InvalidArgument("family '" + family_ + "': " + name + " " + what);
}

}  // namespace wattfleet::zoo
