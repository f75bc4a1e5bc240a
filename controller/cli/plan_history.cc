// The plan's device time from the dataset's history (plan_history.h).
#include "plan_history.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "wattfleet/common/job.h"
#include "wattfleet/common/protocol.h"
#include "wattfleet/store/dataset_reader.h"

namespace wattfleet {
namespace {

// The mean, not the median: a total is a sum, and the long jobs are part of it.
double Mean(const std::vector<double>& v) {
  if (v.empty()) return 0;
  double sum = 0;
  for (double x : v) sum += x;
  return sum / static_cast<double>(v.size());
}

struct Seen {
  int64_t created_ms = 0;
  double timed_s = 0;  // the sum of its windows
};

// (kind, subject, device class, mode, dtype) -> batch -> time per iteration (s), the latest
// seen: float16 history says nothing of a float32 plan.
using TimeTable = std::map<std::tuple<JobKind, std::string, std::string, std::string, DType>,
                           std::map<int64_t, double>>;

// The time per iteration of `job` at its batch, from the nearest measured batch; negative when
// its subject was never measured there.
double TimePerIteration(const TimeTable& table, const JobSpec& job) {
  auto it = table.find(
      {job.kind, job.subject, job.device_class, std::string(ModeName(job.mode)), job.dtype});
  if (it == table.end() || it->second.empty()) return -1;
  const auto& by_batch = it->second;
  auto best = by_batch.begin();
  for (auto b = by_batch.begin(); b != by_batch.end(); ++b) {
    if (std::abs(std::log(static_cast<double>(b->first) / static_cast<double>(job.batch))) <
        std::abs(std::log(static_cast<double>(best->first) / static_cast<double>(job.batch)))) {
      best = b;
    }
  }
  return best->second * static_cast<double>(job.batch) / static_cast<double>(best->first);
}

}  // namespace

Result<PlanTimeEstimate> EstimatePlanTime(const Plan& plan, const std::string& db) {
  WF_ASSIGN_OR_RETURN(std::unique_ptr<DatasetReader> reader, OpenDatasetReader(db));
  TimeTable times;
  std::map<std::string, std::vector<Seen>> by_agent;
  std::vector<double> windows;
  int64_t history = 0;
  WF_RETURN_IF_ERROR(reader->ForEachMeasurement([&](const MeasurementRecord& m) {
    double timed = 0;
    size_t n = 0;
    // Windows that cannot be read back count as none.
    const Result<std::vector<Repeat>> repeats = RepeatsOf(m);
    for (const Repeat& w : repeats.ok() ? *repeats : std::vector<Repeat>{}) {
      if (w.time_s >= 0) {
        timed += w.time_s;
        ++n;
      }
    }
    if (n == 0 || !(m.m.time_per_iter_s > 0) || m.batch < 1) return Status::OK();
    ++history;
    windows.push_back(static_cast<double>(n));
    // The dtype is in the job as dispatched; a spec that does not decode keeps its time out
    // of the per-subject table (its windows and spacing still count).
    if (auto spec = DecodeJob(m.spec); spec.ok()) {
      times[{m.kind, m.subject, m.device_class, m.mode, spec->dtype}][m.batch] = m.m.time_per_iter_s;
    }
    by_agent[m.agent].push_back({m.created_ms, timed});
    return Status::OK();
  }));

  PlanTimeEstimate e;
  e.history = history;
  if (history < 3) {
    e.seconds = plan.estimated_device_seconds;
    e.basis = "the protocol's minimum (warm-up, min_repeats + 1 windows of min_window_ms, "
              "cool-down per job): " + db + " holds too few measurements to estimate from";
    return e;
  }
  // The fixed part: between two results of one agent, what its windows do not account for.
  // Gaps of over ten minutes are pauses, not jobs.
  std::vector<double> fixed;
  for (auto& [agent, seen] : by_agent) {
    std::sort(seen.begin(), seen.end(),
              [](const Seen& a, const Seen& b) { return a.created_ms < b.created_ms; });
    for (size_t i = 1; i < seen.size(); ++i) {
      const double gap = static_cast<double>(seen[i].created_ms - seen[i - 1].created_ms) / 1000;
      if (gap <= 0 || gap > 600) continue;
      fixed.push_back(std::max(0.0, gap - seen[i].timed_s));
    }
  }
  e.fixed_s_per_job = Mean(fixed);
  e.windows_per_job = Mean(windows);
  for (const JobSpec& job : plan.jobs) {
    const double per_iter = TimePerIteration(times, job);
    if (per_iter > 0) ++e.jobs_with_own_time;
    const double window = std::max(static_cast<double>(job.settings.min_window_ms) / 1000,
                                   std::max(0.0, per_iter));
    e.seconds += e.fixed_s_per_job + e.windows_per_job * window;
  }
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "from %lld measurements in %s: %.2f s per job of start-up, warm-up, idle power "
                "and cool-down (the mean between two results of one agent), plus %.1f windows "
                "of at least min_window_ms, or of the measured time per iteration scaled "
                "linearly to the batch (%lld of %zu jobs measured before)",
                static_cast<long long>(history), db.c_str(), e.fixed_s_per_job,
                e.windows_per_job, static_cast<long long>(e.jobs_with_own_time),
                plan.jobs.size());
  e.basis = buf;
  return e;
}

}  // namespace wattfleet
