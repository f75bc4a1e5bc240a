// `wattfleet predict` over several architectures or batches (cli_predict.h, CmdPredictMany).
#include <cstdio>
#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_predict.h"

namespace wattfleet {
namespace {

std::vector<std::string> SplitNames(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string name =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!name.empty()) out.push_back(name);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string IntervalText(const std::optional<std::pair<double, double>>& i) {
  if (!i) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g-%.3g", i->first, i->second);
  return buf;
}

}  // namespace

int CmdPredictMany(const PredictOptions& options, const std::vector<int64_t>& batches) {
  std::vector<std::string> archs = SplitNames(options.source.arch_name);
  if (archs.empty()) archs.push_back(options.source.arch_name);  // a TorchScript file
  if (archs.size() == 1 && batches.size() <= 1) {
    PredictOptions one = options;
    one.source.arch_name = archs[0];
    if (!batches.empty()) one.batch = batches[0];
    return CmdPredict(one);
  }
  try {
    std::vector<Prediction> done;
    for (const std::string& arch : archs) {
      std::vector<std::optional<int64_t>> at(batches.begin(), batches.end());
      if (at.empty()) at.push_back(std::nullopt);
      for (const std::optional<int64_t>& batch : at) {
        PredictOptions one = options;
        one.source.arch_name = arch;
        one.batch = batch;
        auto p = PredictArchitecture(one);
        if (!p.ok()) {
          std::cerr << "wattfleet: " << p.status().message() << "\n";
          return p.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
        }
        done.push_back(std::move(p).value());
      }
    }
    if (options.json) {
      nlohmann::json all = nlohmann::json::array();
      for (const Prediction& p : done) all.push_back(PredictionToJson(p));
      std::cout << all.dump(2) << "\n";
      return 0;
    }
    std::printf("estimates per iteration on %s, %s, estimator %s (90%% intervals unless a "
                "note says otherwise)\n",
                options.device.c_str(), options.mode.c_str(), options.estimator.c_str());
    std::printf("%-24s %6s %11s %19s %11s %19s  %s\n", "architecture", "batch", "energy_j",
                "interval", "time_s", "interval", "reach");
    std::set<std::string> notes;
    for (const Prediction& p : done) {
      std::printf("%-24s %6lld %11.4g %19s %11.4g %19s  %s\n", p.architecture.c_str(),
                  static_cast<long long>(p.batch), p.energy_j,
                  IntervalText(p.energy_j_interval).c_str(), p.time_s,
                  IntervalText(p.time_s_interval).c_str(), ReachText(p.reach).c_str());
      if (!p.notes.empty()) notes.insert(p.architecture + ": " + p.notes.front());
    }
    for (const std::string& n : notes) std::printf("note: %s\n", n.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "wattfleet: predict: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace wattfleet
