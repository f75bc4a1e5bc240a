// /proc/stat's aggregate "cpu" line: what every CPU of the machine has done since boot, in
// clock ticks (USER_HZ). The modeled meter turns it into an energy estimate; the measurement
// loop compares it with the measuring process's own CPU time to see what else ran.
#pragma once

#include <string>

#include "wattfleet/common/status.h"

namespace wattfleet {

struct CpuSample {
  unsigned long long busy = 0;   // ticks, all cores together: everything but idle and iowait
  unsigned long long steal = 0;  // ticks a hypervisor gave to other guests (part of busy)
  int cores = 0;                 // "cpuN" lines
};

// Parses a /proc/stat file. Only user..steal are summed: guest and guest_nice are already
// counted in user and nice. Errors name the file (and the line).
Result<CpuSample> ReadProcStat(const std::string& path);

// The user + system CPU time of one process (all its threads), in ticks, from a
// /proc/<pid>/stat file (fields 14 and 15, after the parenthesised command name); with
// `with_children`, plus the CPU time of its children it has waited for (16 and 17).
Result<unsigned long long> ReadProcessTicks(const std::string& path, bool with_children = false);

// USER_HZ: the unit of both.
double TicksPerSecond();

}  // namespace wattfleet
