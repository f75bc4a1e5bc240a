// Named architectures and parametric families that campaigns refer to.
//
// `zoo: NAME` entries resolve through FindZooArchitecture; `family: NAME` entries with a sweep
// expand through ExpandFamily into one architecture per point of the sweep's cartesian
// product.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "wattfleet/common/architecture.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

// Names accepted by FindZooArchitecture, sorted.
std::vector<std::string> ZooNames();
// NotFound for an unknown name: with a did-you-mean when one name is close (ZooSuggestion),
// listing the known names otherwise.
Result<Architecture> FindZooArchitecture(const std::string& name);
// " (did you mean 'resnet18'?)" when `name` is close to one zoo name, ignoring case, '-', '_'
// and '.' ("ResNet18", "mobilenetv2", "gpt2"); "" otherwise.
std::string ZooSuggestion(const std::string& name);

// A sweep value: an integer or a shape (e.g. input: [1, 28, 28]).
struct SweepValue {
  std::vector<int64_t> values;  // one element for scalars
  bool is_list = false;
};
// One point of a sweep: parameter name -> value.
using SweepPoint = std::map<std::string, SweepValue>;

// Families accepted by ExpandFamily, sorted.
std::vector<std::string> FamilyNames();
// Parameters that the family takes, with a one-line description each.
std::map<std::string, std::string> FamilyParameters(const std::string& family);
// Builds one architecture of `family` at `point`. Unknown families and parameters, missing
// required parameters and values that give an invalid network are InvalidArgument errors
// naming the parameter. Names are deterministic, e.g. "mlp-d3-w64-i784".
Result<Architecture> BuildFamilyMember(const std::string& family, const SweepPoint& point);

}  // namespace wattfleet
