// The layer model's public API: names, validation (Normalize), features (ComputeFeatures) and
// identity (CanonicalKey) of one layer.
//
// One function, Analyze() (layer_analyze.cc), holds all the shape arithmetic: Normalize() runs
// it to reject specs whose shapes do not fit, and ComputeFeatures() runs it to produce the
// numbers, so the two can never disagree about what a valid layer is.
#include "wattfleet/common/layer.h"

#include <cmath>
#include <cstdio>
#include <utility>

#include "layer_internal.h"

namespace wattfleet {
namespace layer_internal {

std::string FormatNumber(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<long long>(v));
  }
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

}  // namespace layer_internal

namespace {

using namespace layer_internal;

Status CheckValue(LayerType type, const ParamDef& def, double v) {
  if (!std::isfinite(v)) {
    return Error(type, StrCat(def.name, " must be a finite number, got ", FormatNumber(v)));
  }
  if (def.domain == Domain::kProbability) {
    if (v < 0 || v >= 1) {
      return Error(type, StrCat(def.name, " must be in [0, 1), got ", FormatNumber(v)));
    }
    return Status::OK();
  }
  if (v != std::floor(v)) {
    return Error(type, StrCat(def.name, " must be an integer, got ", FormatNumber(v)));
  }
  if (std::fabs(v) > kMaxInt) {
    return Error(type, StrCat(def.name, " is too large: ", FormatNumber(v)));
  }
  switch (def.domain) {
    case Domain::kPositive:
      if (v < 1) return Error(type, StrCat(def.name, " must be positive, got ", FormatNumber(v)));
      break;
    case Domain::kNonNegative:
      if (v < 0) {
        return Error(type, StrCat(def.name, " must be non-negative, got ", FormatNumber(v)));
      }
      break;
    case Domain::kBool:
      if (v != 0 && v != 1) {
        return Error(type, StrCat(def.name, " must be 0 or 1, got ", FormatNumber(v)));
      }
      break;
    case Domain::kAnyInt:
    case Domain::kProbability:
      break;
  }
  return Status::OK();
}

// `which` names the input in messages ("input shape" or "input 2 shape").
Status CheckOneShape(LayerType type, const Shape& shape, const std::string& which) {
  const TypeRow row = RowOf(type);
  const size_t lo = row.min_rank, hi = row.max_rank;
  const size_t rank = shape.size();
  if (rank < lo || rank > hi) {
    std::string want = lo == hi ? StrCat(lo) : hi >= 64 ? StrCat("at least ", lo)
                                                        : StrCat(lo, " or ", hi);
    return Error(type, StrCat(which, " ", ShapeToString(shape), " must have ", want,
                              " dimensions", row.rank_hint));
  }
  double elements = 1;
  for (int64_t d : shape) {
    if (d < 1 || d > static_cast<int64_t>(kMaxInt)) {
      return Error(type, StrCat(which, " ", ShapeToString(shape),
                                " has a dimension outside [1, 1e9]"));
    }
    elements *= static_cast<double>(d);
  }
  if (elements > kMaxElements) {
    return Error(type, StrCat(which, " ", ShapeToString(shape), " has more than 1e15 elements"));
  }
  return Status::OK();
}

Status CheckInputShapes(const LayerSpec& spec) {
  const TypeRow row = RowOf(spec.type);
  const size_t lo = row.min_inputs, hi = row.max_inputs;
  const size_t count = 1 + spec.extra_inputs.size();
  if (count < lo || count > hi) {
    return Error(spec.type, lo == hi ? StrCat("takes ", lo, " input, got ", count)
                                     : StrCat("takes ", lo, " to ", hi, " inputs, got ", count));
  }
  WF_RETURN_IF_ERROR(CheckOneShape(spec.type, spec.input_shape, "input shape"));
  for (size_t j = 0; j < spec.extra_inputs.size(); ++j) {
    WF_RETURN_IF_ERROR(
        CheckOneShape(spec.type, spec.extra_inputs[j], StrCat("input ", j + 1, " shape")));
  }
  return Status::OK();
}

// Per-parameter checks and defaults; Analyze() does the rest.
Result<LayerSpec> CheckParams(LayerSpec spec) {
  const LayerType type = spec.type;
  if (type == LayerType::kFlatten) {
    // With the batch dimension, start_dim=1,end_dim=-1 flattens the whole sample: the only
    // form we support. Erased so that explicit and implicit defaults share one key.
    static const std::pair<const char*, double> kFixed[] = {{"start_dim", 1}, {"end_dim", -1}};
    for (const auto& [name, value] : kFixed) {
      auto it = spec.params.find(name);
      if (it == spec.params.end()) continue;
      if (it->second != value) {
        return Error(type, StrCat(name, " ", FormatNumber(it->second),
                                  " is not supported (only start_dim=1, end_dim=-1)"));
      }
      spec.params.erase(it);
    }
  }
  const auto& defs = *RowOf(type).params;
  for (const auto& [name, value] : spec.params) {
    bool known = false;
    for (const auto& d : defs) known = known || name == d.name;
    if (!known) {
      return Error(type, StrCat("unknown hyper-parameter '", name, "' (", AcceptedNames(type),
                                ")"));
    }
  }
  for (const auto& d : defs) {
    auto it = spec.params.find(d.name);
    if (it == spec.params.end()) {
      if (d.kind == Kind::kRequired) {
        return Error(type, StrCat("missing required hyper-parameter ", d.name));
      }
      if (d.kind == Kind::kDefault) spec.params[d.name] = d.fallback;
      continue;
    }
    WF_RETURN_IF_ERROR(CheckValue(type, d, it->second));
  }
  WF_RETURN_IF_ERROR(CheckInputShapes(spec));
  return spec;
}

}  // namespace

const std::vector<LayerType>& AllLayerTypes() { return AllTypes(); }

std::string_view LayerTypeName(LayerType type) {
  const char* name = RowOf(type).name;
  return name ? name : "Unknown";
}

std::optional<LayerType> ParseLayerType(std::string_view name) {
  for (LayerType t : AllTypes()) {
    if (name == RowOf(t).name) return t;
  }
  return std::nullopt;
}

bool IsOptimizerStep(LayerType type) {
  return type == LayerType::kSGDStep || type == LayerType::kSGDMomentumStep ||
         type == LayerType::kAdamStep || type == LayerType::kAdamWStep;
}

bool IsTrainingStepPart(LayerType type) {
  return IsOptimizerStep(type) || type == LayerType::kCrossEntropyLoss ||
         type == LayerType::kMSELoss;
}

std::string ShapeToString(const Shape& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

int64_t NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t LayerSpec::Int(const std::string& key, int64_t fallback) const {
  auto it = params.find(key);
  if (it == params.end() || !std::isfinite(it->second)) return fallback;
  return static_cast<int64_t>(std::llround(it->second));
}

Result<LayerSpec> Normalize(LayerSpec spec) {
  LayerFeatures unused;
  return Normalize(std::move(spec), &unused);
}

Result<LayerSpec> Normalize(LayerSpec spec, LayerFeatures* features) {
  WF_ASSIGN_OR_RETURN(LayerSpec checked, CheckParams(std::move(spec)));
  WF_ASSIGN_OR_RETURN(*features, Analyze(checked));
  return checked;
}

Result<LayerFeatures> ComputeFeatures(const LayerSpec& spec) {
  // Normalizing again is cheap and makes a spec with omitted defaults safe to pass here.
  WF_ASSIGN_OR_RETURN(LayerSpec checked, CheckParams(spec));
  return Analyze(checked);
}

std::string CanonicalKey(const LayerSpec& spec) {
  std::string key(LayerTypeName(spec.type));
  key += '(';
  bool first = true;
  for (const auto& [name, value] : spec.params) {  // std::map: name order
    if (!first) key += ',';
    first = false;
    key += name;
    key += '=';
    key += FormatNumber(value);
  }
  key += ')';
  key += ShapeToString(spec.input_shape);
  for (const Shape& extra : spec.extra_inputs) key += ShapeToString(extra);
  return key;
}

}  // namespace wattfleet
