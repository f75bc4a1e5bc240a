#include "wattfleet/monitor/cpu_activity.h"

#include <algorithm>

#include "wattfleet/meters/proc_stat.h"

namespace wattfleet {

Result<CpuActivity> ProcCpuActivity::Read() {
  WF_ASSIGN_OR_RETURN(const CpuSample machine, ReadProcStat(proc_root_ + "/stat"));
  WF_ASSIGN_OR_RETURN(const unsigned long long self, ReadProcessTicks(proc_root_ + "/self/stat", with_children_));
  return CpuActivity{machine.busy, self};
}

double ProcCpuActivity::ticks_per_second() const { return TicksPerSecond(); }

double OthersCores(const CpuActivity& before, const CpuActivity& after, double ticks_per_second,
                   double wall_s) {
  if (wall_s <= 0 || ticks_per_second <= 0) return 0;
  // Counters only grow; a reading that went backwards (a reboot cannot happen mid-window, a
  // fake tree can) counts as nothing.
  const double machine = after.machine_busy >= before.machine_busy
                             ? static_cast<double>(after.machine_busy - before.machine_busy)
                             : 0.0;
  const double self =
      after.self >= before.self ? static_cast<double>(after.self - before.self) : 0.0;
  return std::max(0.0, machine - self) / ticks_per_second / wall_s;
}

}  // namespace wattfleet
