// Private to the layer model: hyper-parameter definitions and shape rules per layer type
// (layer_defs.cc), and the shape arithmetic (layer_analyze.cc). layer.cc ties them into the
// public API of layer.h.
#pragma once

#include <cstddef>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "wattfleet/common/layer.h"

namespace wattfleet::layer_internal {

template <typename... Args>
std::string StrCat(Args&&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

// Integers print without decimals; anything else round-trips.
std::string FormatNumber(double v);

inline Status Error(LayerType type, const std::string& msg) {
  return Status::InvalidArgument(StrCat(LayerTypeName(type), ": ", msg));
}

// Integer hyper-parameters above this are rejected: they are certainly typos, and keeping
// them small keeps the int64 feature arithmetic far from overflow.
constexpr double kMaxInt = 1e9;
constexpr double kMaxElements = 1e15;

enum class Kind {
  kRequired,  // must be given
  kDefault,   // filled with `fallback` when absent
  kDerived,   // filled from the input shape or another hyper-parameter by Analyze()
  kOptional,  // absent means none; never filled, so a spec without it keeps its key
};
enum class Domain {
  kPositive,     // integer >= 1
  kNonNegative,  // integer >= 0
  kBool,         // 0 or 1
  kAnyInt,       // any integer (Softmax's dim)
  kProbability,  // real in [0, 1)
};
struct ParamDef {
  const char* name;
  Kind kind;
  double fallback;
  Domain domain;
};

// One layer type's facts (layer_defs.cc).
struct TypeRow {
  const char* name = nullptr;                    // libtorch's class name
  const std::vector<ParamDef>* params = nullptr;  // hyper-parameters, in declaration order
  size_t min_rank = 1, max_rank = 1;             // the rank every input must have
  const char* rank_hint = "";                    // " [C,H,W]": for messages about the rank
  size_t min_inputs = 1, max_inputs = 1;         // inputs read (Add, Mul, Concat: 2 or more)
};
// The row of `type`; a row with a null name for an integer that is no LayerType.
TypeRow RowOf(LayerType type);
// Every layer type, in enum order.
const std::vector<LayerType>& AllTypes();

// "accepted: a, b" or "it takes no hyper-parameters", for error messages.
std::string AcceptedNames(LayerType type);

// Fills the derived hyper-parameters of `spec` (those still absent), checks the shape
// arithmetic and returns the features. `spec` has passed the per-parameter checks.
Result<LayerFeatures> Analyze(LayerSpec& spec);

}  // namespace wattfleet::layer_internal
