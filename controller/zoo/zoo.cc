// The zoo's registry: every zoo file contributes its named architectures and families once;
// lookups go through the sorted result.
#include "wattfleet/zoo/zoo.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <stdexcept>
#include <utility>

#include "wattfleet/common/text.h"
#include "zoo_registry.h"

namespace wattfleet {
namespace zoo {

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

namespace {

const Registry& TheRegistry() {
  static const Registry kRegistry = [] {
    Registry r;
    AddClassicModels(r);
    AddVisionModels(r);
    AddSequenceModels(r);
    AddAudioModels(r);
    std::sort(r.models.begin(), r.models.end(),
              [](const ModelEntry& a, const ModelEntry& b) { return a.name < b.name; });
    std::sort(r.families.begin(), r.families.end(),
              [](const FamilyEntry& a, const FamilyEntry& b) { return a.name < b.name; });
    // families.yaml and the builders name the same families: a table entry without a builder
    // (or a builder without one) is a defect of the build, met by the zoo's tests.
    std::vector<std::string> built;
    for (const FamilyEntry& f : r.families) built.push_back(f.name);
    if (const std::vector<std::string> declared = DeclaredFamilies(); built != declared) {
      throw std::logic_error("zoo: families.yaml declares " + Join(declared) +
                             "; the builders are " + Join(built));
    }
    return r;
  }();
  return kRegistry;
}

}  // namespace
}  // namespace zoo

std::vector<std::string> ZooNames() {
  std::vector<std::string> names;
  for (const auto& e : zoo::TheRegistry().models) names.push_back(e.name);
  return names;
}

namespace {

// A name as people type it: lower case, without '-', '_' and '.' ("ResNet18", "mobilenetv2"
// and "GPT-2" are resnet18, mobilenet_v2 and gpt2-small's first letters).
std::string Loose(const std::string& name) {
  std::string out;
  for (char ch : name) {
    if (ch == '-' || ch == '_' || ch == '.') continue;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  return out;
}

}  // namespace

std::string ZooSuggestion(const std::string& name) {
  const std::vector<std::string> names = ZooNames();
  std::vector<std::string> loose;
  for (const std::string& n : names) loose.push_back(Loose(n));
  const std::string hint = Suggestion(Loose(name), loose);
  if (hint.empty()) return "";
  // Suggestion quotes the loose form: name the zoo's own.
  for (size_t i = 0; i < names.size(); ++i) {
    if (hint == " (did you mean '" + loose[i] + "'?)") return " (did you mean '" + names[i] + "'?)";
  }
  return "";
}

Result<Architecture> FindZooArchitecture(const std::string& name) {
  for (const auto& e : zoo::TheRegistry().models) {
    if (name == e.name) return e.build();
  }
  const std::string hint = ZooSuggestion(name);
  if (!hint.empty()) {
    return Status::NotFound("unknown zoo architecture '" + name + "'" + hint +
                            "; docs/zoo.md lists them all");
  }
  return Status::NotFound("unknown zoo architecture '" + name + "'; known: " +
                          zoo::Join(ZooNames()));
}

std::vector<std::string> FamilyNames() {
  std::vector<std::string> names;
  for (const auto& f : zoo::TheRegistry().families) names.push_back(f.name);
  return names;
}

std::map<std::string, std::string> FamilyParameters(const std::string& family) {
  std::map<std::string, std::string> out;
  for (const auto& f : zoo::TheRegistry().families) {
    if (family != f.name) continue;
    for (const auto& p : zoo::DeclaredParams(f.name)) out[p.name] = p.help;
  }
  return out;
}

Result<Architecture> BuildFamilyMember(const std::string& family, const SweepPoint& point) {
  for (const auto& f : zoo::TheRegistry().families) {
    if (family != f.name) continue;
    WF_ASSIGN_OR_RETURN(zoo::PointReader reader, zoo::PointReader::Read(family, point));
    return f.build(reader);
  }
  return Status::InvalidArgument("unknown family '" + family + "'; known: " +
                                 zoo::Join(FamilyNames()));
}

}  // namespace wattfleet
