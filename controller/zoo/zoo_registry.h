// Private to the zoo: how the zoo's files contribute named architectures and families, and
// the helpers they share for reading sweep points. zoo.cc assembles the registry once.
#pragma once

#include <functional>
#include <string>
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

struct ParamInfo {
  std::string name;
  std::string help;  // one line, shown by `wattfleet inspect --family`
};

struct FamilyEntry {
  std::string name;  // e.g. "resnet"
  std::vector<ParamInfo> params;
  std::function<Result<Architecture>(const SweepPoint&)> build;
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

// Reads family parameters from a sweep point, rejecting unknown names up front so that a typo
// never silently falls back to a default.
class PointReader {
 public:
  PointReader(std::string family, const SweepPoint& point, const std::vector<ParamInfo>& known)
      : family_(std::move(family)), point_(point), known_(known) {}

  Status CheckNames() const;
  // A scalar in [min, max]; `fallback` < 0 means required.
  Result<int64_t> Scalar(const std::string& name, int64_t fallback, int64_t max,
                         int64_t min = 1) const;
  // A shape: a list, or a scalar meaning a 1-D shape.
  Result<Shape> ShapeParam(const std::string& name) const;
  Status Bad(const std::string& name, const std::string& what) const;

 private:
  std::string family_;
  const SweepPoint& point_;
  const std::vector<ParamInfo>& known_;
};

// Width and depth limits keep channel doubling and feature arithmetic far from overflow; they
// are far above anything a device can run.
constexpr int64_t kMaxWidth = 1 << 16;
constexpr int64_t kMaxDepth = 64;

}  // namespace wattfleet::zoo
