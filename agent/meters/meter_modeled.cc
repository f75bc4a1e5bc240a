// The `modeled` meter: an energy estimate from CPU utilisation (docs/measurement.md,
// "Meters"), for machines without a power sensor. It is labelled as an estimate everywhere it
// is reported.
//
//   energy(t) = idle_w * (t - t0) + (tdp_w - idle_w) * busy_seconds_since_t0 / cores
//
// where busy seconds come from /proc/stat's aggregate "cpu" line (all cores together, so the
// division by the core count turns them into "fully busy package" seconds).
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "wattfleet/meters/meter.h"
#include "wattfleet/meters/proc_stat.h"

namespace wattfleet {
namespace {

// Per-core package power when the caller gives neither a TDP nor a per-core figure: a
// middle-of-the-road laptop/server figure; the estimate is rough by construction, and says
// what it assumed (MeterFacts::assumes).
constexpr double kDefaultWattsPerCore = 15.0;

class ModeledMeter final : public Meter {
 public:
  ModeledMeter(std::string stat_path, Clock& clock, double hz, int cores, double tdp_w,
               double idle_w, unsigned long long busy0, double t0, std::string assumes)
      : stat_path_(std::move(stat_path)),
        clock_(clock),
        hz_(hz),
        cores_(cores),
        tdp_w_(tdp_w),
        idle_w_(idle_w),
        busy0_(busy0),
        last_busy_(busy0),
        t0_(t0),
        assumes_(std::move(assumes)) {}

  std::string name() const override { return "modeled"; }
  std::string domain() const override { return "cpu-estimate"; }
  bool is_estimate() const override { return true; }
  // The jiffy counter advances once per 1/USER_HZ (10 ms on nearly every Linux, where
  // USER_HZ = 100); never claim a finer period than 10 ms.
  double update_period_s() const override { return std::max(0.01, 1.0 / hz_); }
  MeterFacts facts() const override {
    return {"model", 0, 0, 0, "TDP x CPU utilisation: an estimate, not a measurement; " + assumes_};
  }
  std::string assumes() const override { return assumes_; }
  // The busy jiffies the model follows: they move at most once per tick.
  Result<double> ReadSensor() override {
    WF_ASSIGN_OR_RETURN(CpuSample s, ReadProcStat(stat_path_));
    return static_cast<double>(s.busy);
  }

  Result<double> ReadJoules() override {
    WF_ASSIGN_OR_RETURN(CpuSample s, ReadProcStat(stat_path_));
    // A counter that runs backwards means the file is not the one we started with (or the
    // kernel reset it); any energy computed across it would be meaningless.
    if (s.busy < last_busy_) {
      return Status::Corruption(stat_path_ + ": busy jiffies went backwards (" +
                                std::to_string(last_busy_) + " -> " + std::to_string(s.busy) +
                                ")");
    }
    last_busy_ = s.busy;
    const double t = clock_.NowSeconds();
    const double busy_s = static_cast<double>(s.busy - busy0_) / hz_;
    // The core count is the one seen at creation: hot-plugging a core mid-job must not
    // rescale energy already accumulated.
    return idle_w_ * (t - t0_) + (tdp_w_ - idle_w_) * busy_s / cores_;
  }

 private:
  std::string stat_path_;
  Clock& clock_;
  double hz_;
  int cores_;
  double tdp_w_;
  double idle_w_;
  unsigned long long busy0_;
  unsigned long long last_busy_;
  double t0_;
  std::string assumes_;
};

std::string Watts(double w) {
  std::ostringstream os;
  os.precision(3);
  os << w << " W";
  return os.str();
}

}  // namespace

Result<std::unique_ptr<Meter>> MakeModeledMeter(const ModeledMeterOptions& options,
                                                Clock& clock) {
  if (!(options.tdp_w >= 0) || !std::isfinite(options.tdp_w)) {
    return Status::InvalidArgument("modeled meter: tdp_w must be >= 0 (0: 15 W per core), got " +
                                   std::to_string(options.tdp_w));
  }
  if (!(options.core_w >= 0) || !std::isfinite(options.core_w)) {
    return Status::InvalidArgument("modeled meter: core_w must be >= 0 (0: 15 W per core), got " +
                                   std::to_string(options.core_w));
  }
  if (!(options.idle_fraction >= 0 && options.idle_fraction <= 1)) {
    return Status::InvalidArgument("modeled meter: idle_fraction must be in [0, 1], got " +
                                   std::to_string(options.idle_fraction));
  }
  const std::string path = options.proc_root + "/stat";
  WF_ASSIGN_OR_RETURN(CpuSample s, ReadProcStat(path));
  const double per_core = options.core_w > 0 ? options.core_w : kDefaultWattsPerCore;
  const double tdp = options.tdp_w > 0 ? options.tdp_w : per_core * s.cores;
  const double idle = options.idle_fraction * tdp;
  // What every energy of this meter rests on, said with each measurement and by probe.
  std::string assumes =
      options.tdp_w > 0
          ? Watts(tdp) + " at full load (package, set)"
          : Watts(per_core) + " per core x " + std::to_string(s.cores) + " cores = " +
                Watts(tdp) + " at full load (" +
                (options.core_w > 0 ? "set" : "the default; --modeled-core-w sets it") + ")";
  assumes += ", idle " + Watts(idle) + " (" +
             std::to_string(std::lround(100 * options.idle_fraction)) + " % of it)";
  const double t0 = clock.NowSeconds();
  return std::unique_ptr<Meter>(std::make_unique<ModeledMeter>(
      path, clock, TicksPerSecond(), s.cores, tdp, idle, s.busy, t0, std::move(assumes)));
}

}  // namespace wattfleet
