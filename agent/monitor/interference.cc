#include "wattfleet/monitor/interference.h"

namespace wattfleet {

Status CpuInterference::Begin() {
  WF_ASSIGN_OR_RETURN(before_, source_.Read());
  return Status::OK();
}

Result<double> CpuInterference::End(double wall_s) {
  WF_ASSIGN_OR_RETURN(const CpuActivity after, source_.Read());
  return OthersCores(before_, after, source_.ticks_per_second(), wall_s);
}

}  // namespace wattfleet
