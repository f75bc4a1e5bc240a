#include "wattfleet/common/job.h"

#include <algorithm>
#include <array>
#include <utility>

#include "wattfleet/common/enum_names.h"

namespace wattfleet {
namespace {

constexpr std::array<std::pair<Mode, std::string_view>, 2> kModes{{
    {Mode::kInference, "inference"}, {Mode::kTraining, "training"}}};
constexpr std::array<std::pair<DType, std::string_view>, 3> kDTypes{{
    {DType::kFloat32, "float32"}, {DType::kFloat16, "float16"}, {DType::kBFloat16, "bfloat16"}}};
constexpr std::array<std::pair<JobKind, std::string_view>, 4> kKinds{{
    {JobKind::kLayer, "layer"},
    {JobKind::kModel, "model"},
    {JobKind::kProbe, "probe"},
    {JobKind::kWindow, "window"}}};
constexpr std::array<std::pair<Outcome, std::string_view>, 6> kOutcomes{{
    {Outcome::kDone, "DONE"},
    {Outcome::kFailed, "FAILED"},
    {Outcome::kTimeout, "TIMEOUT"},
    {Outcome::kKilled, "KILLED"},
    {Outcome::kLost, "LOST"},
    {Outcome::kSensor, "SENSOR"}}};
constexpr std::array<std::pair<Optimizer, std::string_view>, 4> kOptimizers{{
    {Optimizer::kSgd, "sgd"},
    {Optimizer::kSgdMomentum, "sgd-momentum"},
    {Optimizer::kAdam, "adam"},
    {Optimizer::kAdamW, "adamw"}}};
constexpr std::array<std::pair<Loss, std::string_view>, 2> kLosses{{
    {Loss::kCrossEntropy, "cross-entropy"}, {Loss::kMse, "mse"}}};

}  // namespace

std::string_view ModeName(Mode m) { return NameIn(kModes, m); }
std::string_view DTypeName(DType d) { return NameIn(kDTypes, d); }
std::string_view JobKindName(JobKind k) { return NameIn(kKinds, k); }
std::string_view OutcomeName(Outcome o) { return NameIn(kOutcomes, o); }
std::optional<Mode> ParseMode(std::string_view s) { return ParseIn(kModes, s); }
std::optional<DType> ParseDType(std::string_view s) { return ParseIn(kDTypes, s); }
std::optional<JobKind> ParseJobKind(std::string_view s) { return ParseIn(kKinds, s); }
std::optional<Outcome> ParseOutcome(std::string_view s) { return ParseIn(kOutcomes, s); }
std::string_view OptimizerName(Optimizer o) { return NameIn(kOptimizers, o); }
std::string_view LossName(Loss l) { return NameIn(kLosses, l); }
std::optional<Optimizer> ParseOptimizer(std::string_view s) { return ParseIn(kOptimizers, s); }
std::optional<Loss> ParseLoss(std::string_view s) { return ParseIn(kLosses, s); }

bool IsRetryable(Outcome o) { return o != Outcome::kDone && o != Outcome::kFailed; }

std::vector<std::string> QualityFlags(const Measurement& m) {
  std::vector<std::string> flags = m.flags;
  if (!m.ci_met && std::find(flags.begin(), flags.end(), kFlagCi) == flags.end()) {
    flags.insert(flags.begin(), kFlagCi);
  }
  return flags;
}

std::string QualityFlagMeaning(std::string_view flag) {
  static const std::pair<std::string_view, std::string_view> kMeanings[] = {
      {kFlagCi, "the 95 % confidence target was not met within max_repeats windows"},
      {kFlagInterference, "other work kept the machine busy even in the windows measured again"},
      {kFlagBelowIdle, "read less than the idle power measured beside it (taken while others ran)"},
      {kFlagIdleStale, "the idle power it rests on was measured while others ran, or long before"},
      {kFlagLayerSum, "a whole model whose layers sum to outside 1/3-3x of it"},
      {kFlagShortWindow, "a window shorter than ten sensor updates"},
  };
  for (const auto& [name, meaning] : kMeanings) {
    if (name == flag) return std::string(meaning);
  }
  return std::string(flag);
}

std::string QualityFlagsText(const Measurement& m) {
  std::string out;
  for (const std::string& f : QualityFlags(m)) out += (out.empty() ? "" : ";") + f;
  return out;
}

}  // namespace wattfleet
