#include "summary.h"

#include <cstdarg>
#include <cstdio>
#include <map>
#include <sstream>
#include <set>
#include <tuple>

#include "wattfleet/estimate/layer_sum.h"

namespace wattfleet {
namespace {

std::string Format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string Format(const char* fmt, ...) {
  char buf[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  return buf;
}

}  // namespace

std::string FormatSummary(const Plan& plan, const std::vector<ExportRow>& rows) {
  // (device class, layer key, batch) -> measurement row, for the additivity check; a batch
  // sweep's batches are never mixed.
  std::map<std::tuple<std::string, std::string, int64_t>, const ExportRow*> layer_rows;
  struct TypeFigures {
    int64_t layers = 0;
    double time_s = 0;
    double energy_j = 0;
    double macs = 0;
  };
  std::map<std::tuple<std::string, int64_t, std::string>, TypeFigures> by_type;
  bool estimate = false;
  std::set<std::string> sensors;
  for (const ExportRow& r : rows) {
    estimate |= r.m.energy_is_estimate;
    sensors.insert(r.m.sensor);
    if (r.kind != JobKind::kLayer) continue;
    layer_rows[{r.device_class, r.layer_key, r.batch}] = &r;
    TypeFigures& t = by_type[{r.device_class, r.batch, r.layer_type}];
    ++t.layers;
    t.time_s += r.m.time_per_iter_s;
    t.energy_j += r.m.energy_per_iter_j;
    t.macs += static_cast<double>(r.macs);
  }

  std::string out;
  const Campaign& c = plan.campaign;
  out += Format("campaign %s: %zu architectures, %lld layers, %zu distinct, %zu measurements\n",
                c.name.c_str(), c.architectures.size(),
                static_cast<long long>(plan.layers_total), plan.layers.size(), rows.size());
  std::string sensor_list;
  for (const auto& s : sensors) sensor_list += (sensor_list.empty() ? "" : ", ") + s;
  std::string batches;
  for (int64_t b : c.Batches()) batches += (batches.empty() ? "" : ", ") + std::to_string(b);
  out += Format("mode %s, batch %s, dtype %s, sensor %s%s\n\n",
                std::string(ModeName(c.mode)).c_str(), batches.c_str(),
                std::string(DTypeName(c.dtype)).c_str(), sensor_list.c_str(),
                estimate ? " (energy is a modeled estimate, time is measured)" : "");

  out += "Per layer type (distinct layers, one iteration = one batch)\n";
  out += Format("%-8s %6s %-20s %7s %14s %16s %10s\n", "class", "batch", "type", "layers",
                "time/iter ms", "energy/iter mJ", "GMAC/s");
  for (const auto& [key, t] : by_type) {
    out += Format("%-8s %6lld %-20s %7lld %14.3f %16.3f %10.2f\n", std::get<0>(key).c_str(),
                  static_cast<long long>(std::get<1>(key)), std::get<2>(key).c_str(),
                  static_cast<long long>(t.layers), t.time_s * 1e3,
                  t.energy_j * 1e3, t.time_s > 0 ? t.macs / t.time_s / 1e9 : 0.0);
  }

  out += "\nPer model (whole model measured vs. the sum of its measured layers)\n";
  out += Format("%-8s %-24s %6s %6s %12s %12s %7s %12s %12s\n", "class", "model", "batch",
                "layers", "time ms", "sum ms", "ratio", "energy mJ", "sum mJ");
  int outliers = 0;
  for (const ExportRow& r : rows) {
    if (r.kind != JobKind::kModel) continue;
    double sum_t = 0, sum_e = 0;
    int64_t layers = 0;
    bool complete = true;
    for (const ArchLayerRef& ref : plan.arch_layers) {
      if (ref.architecture != r.architecture) continue;
      ++layers;
      auto it = layer_rows.find({r.device_class, ref.layer_key, r.batch});
      if (it == layer_rows.end()) {
        complete = false;
        continue;
      }
      sum_t += it->second->m.time_per_iter_s;
      sum_e += it->second->m.energy_per_iter_j;
    }
    const double t = r.m.time_per_iter_s;
    const bool outlier = complete && t > 0 && LayerSumOutOfRange(sum_t / t);
    outliers += outlier ? 1 : 0;
    out += Format("%-8s %-24s %6lld %6lld %12.3f %12s %7s %12.3f %12s%s\n",
                  r.device_class.c_str(), r.architecture.c_str(),
                  static_cast<long long>(r.batch), static_cast<long long>(layers), t * 1e3,
                  complete ? Format("%.3f", sum_t * 1e3).c_str() : "n/a",
                  complete && t > 0 ? Format("%.2f", sum_t / t).c_str() : "n/a",
                  r.m.energy_per_iter_j * 1e3,
                  complete ? Format("%.3f", sum_e * 1e3).c_str() : "n/a",
                  outlier ? "  layer-sum" : "");
  }
  if (outliers > 0) {
    out += Format("%d model(s) flagged layer-sum: their layers sum to outside 1/3-3x of the "
                  "whole model's time, so one of the two was disturbed; fit leaves them out\n",
                  outliers);
  }
  return out;
}

std::string FormatFlagged(const std::vector<ExportRow>& rows) {
  std::ostringstream out;
  std::map<std::string, int64_t> flag_counts;
  int64_t flagged = 0;
  for (const ExportRow& r : rows) {
    const std::vector<std::string> flags = QualityFlags(r.m);
    flagged += flags.empty() ? 0 : 1;
    for (const std::string& f : flags) ++flag_counts[f];
  }
  if (flagged > 0) {
    // Every job has its measurement; these are doubted, not lost. Said with why, and with
    // what to do, since fit, predict and report leave them out by default.
    out << flagged << " of them carry quality flags (column quality_flags of the export):\n";
    for (const auto& [flag, n] : flag_counts) {
      out << "  " << flag << ": " << n << " - " << QualityFlagMeaning(flag) << "\n";
    }
    // What would have kept each flag away.
    std::vector<std::string> remedies;
    if (flag_counts.count(kFlagInterference) + flag_counts.count(kFlagBelowIdle) +
            flag_counts.count(kFlagIdleStale) > 0) {
      remedies.push_back("stop what else runs on this machine");
    }
    if (flag_counts.count(kFlagCi) > 0) {
      remedies.push_back("allow more windows (measurement.max_repeats) or a wider target "
                         "(measurement.target_rel_ci)");
    }
    out << "fit, predict and report leave them out; give those commands --include-flagged to "
           "use them as they are.";
    if (!remedies.empty()) {
      out << " To measure them again, " << remedies[0]
          << (remedies.size() > 1 ? ", " + remedies[1] + "," : std::string())
          << " and run the same command with --fresh.";
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace wattfleet
