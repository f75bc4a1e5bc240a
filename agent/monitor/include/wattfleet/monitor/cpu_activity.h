// What else ran on the machine while a window was measured. A window's energy covers the whole
// package (or the whole modeled CPU), so another process's work lands in it; the measurement
// loop reads this before and after each window and discards windows that shared the machine.
#pragma once

#include <string>

#include "wattfleet/common/status.h"

namespace wattfleet {

// A reading, in clock ticks since boot.
struct CpuActivity {
  unsigned long long machine_busy = 0;  // every CPU, steal included
  unsigned long long self = 0;          // the measuring process, all its threads
};

class CpuActivitySource {
 public:
  virtual ~CpuActivitySource() = default;
  virtual Result<CpuActivity> Read() = 0;
  virtual double ticks_per_second() const = 0;
};

// From procfs: PROC_ROOT/stat and PROC_ROOT/self/stat (tests point it at a fake tree).
class ProcCpuActivity final : public CpuActivitySource {
 public:
  // With `with_children`, the process's work includes that of the children it has waited for
  // (a command run and measured by `wattfleet measure` is not someone else's work).
  explicit ProcCpuActivity(std::string proc_root, bool with_children = false)
      : proc_root_(std::move(proc_root)), with_children_(with_children) {}
  Result<CpuActivity> Read() override;
  double ticks_per_second() const override;

 private:
  std::string proc_root_;
  bool with_children_;
};

// Cores kept busy by everything but the measuring process, on average over `wall_s` between
// two readings (0 when the counters say less: tick accounting is coarse).
double OthersCores(const CpuActivity& before, const CpuActivity& after, double ticks_per_second,
                   double wall_s);

}  // namespace wattfleet
