// Private to the zoo: how the zoo's files contribute named architectures and families, and
// the helpers they share for reading sweep points. zoo.cc assembles the registry once.
#pragma once

#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "wattfleet/common/architecture.h"
#include "wattfleet/common/status.h"
#include "wattfleet/zoo/zoo.h"

namespace wattfleet::zoo {

struct ModelEntry {
  std::string name;    // e.g. "resnet18"; unique across the zoo
  std::string source;  // where the definition comes from, e.g. "torchvision 0.14 resnet18"
  std::function<Result<Architecture>()> build;
};

// Width and depth limits keep channel doubling and feature arithmetic far from overflow; they
// are far above anything a device can run.
constexpr int64_t kMaxWidth = 1 << 16;
constexpr int64_t kMaxDepth = 64;

// A family parameter as families.yaml declares it.
struct ParamInfo {
  std::string name;
  std::string help;  // one line, its default and bounds included (`inspect --family`)
  std::optional<int64_t> fallback;  // the default; none where required or derived
  bool required = false;
  int64_t min = 1;
  int64_t max = kMaxWidth;
  std::vector<int64_t> choices;  // where not empty, the only values accepted
  bool shape = false;            // a list of dimensions rather than an integer
};

// The parameters families.yaml declares for `family`; empty for a family it does not name.
const std::vector<ParamInfo>& DeclaredParams(const std::string& family);
// Every family families.yaml declares.
std::vector<std::string> DeclaredFamilies();

// A sweep point of one family, checked whole against the family's declared parameters before
// any builder reads it: an unknown name, a missing required one, a list where an integer
// belongs, a value out of bounds or not among the choices is refused, naming the parameter,
// so that a typo never silently falls back to a default.
class PointReader {
 public:
  static Result<PointReader> Read(const std::string& family, const SweepPoint& point);

  // An integer parameter: as the point gives it, else its declared default, else `derived`
  // (for a default the builder works out from other parameters).
  int64_t Int(const std::string& name, int64_t derived = 0) const;
  // Each named integer parameter into its field, as Int() reads it.
  void Fill(std::initializer_list<std::pair<const char*, int64_t*>> fields) const {
    for (const auto& [name, field] : fields) *field = Int(name);
  }
  // A shape parameter: a list, or a scalar meaning a 1-D shape.
  Shape ShapeOf(const std::string& name) const;
  // OK where parameter `name` divides parameter `of`, else "NAME n does not divide OF m".
  Status Divides(const std::string& name, const std::string& of) const;
  // A refusal the builder's own checks make (a parameter that must divide another).
  Status Bad(const std::string& name, const std::string& what) const;
  const std::string& family() const { return family_; }

 private:
  PointReader(std::string family, SweepPoint point, const std::vector<ParamInfo>& params)
      : family_(std::move(family)), point_(std::move(point)), params_(&params) {}
  const ParamInfo* Param(const std::string& name) const;

  std::string family_;
  SweepPoint point_;
  const std::vector<ParamInfo>* params_;
};

// A family: its name (which families.yaml declares) and its builder, which reads a point
// already checked.
struct FamilyEntry {
  std::string name;  // e.g. "resnet"
  std::function<Result<Architecture>(const PointReader&)> build;
};

struct Registry {
  std::vector<ModelEntry> models;
  std::vector<FamilyEntry> families;
};

// One per zoo file.
void AddClassicModels(Registry& r);   // zoo_classic.cc: lenet5, cnn5, mlp-mnist, mlp, cnn
void AddVisionModels(Registry& r);    // zoo_vision*.cc: torchvision's image classifiers
void AddSequenceModels(Registry& r);  // zoo_sequence.cc: Transformers, LSTM/GRU stacks
void AddAudioModels(Registry& r);     // zoo_audio.cc: 1-D conv front ends, small encoders

std::string Join(const std::vector<std::string>& items);


}  // namespace wattfleet::zoo
