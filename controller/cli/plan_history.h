// `wattfleet plan --db`: the device time a plan will take, estimated from the dataset's own
// history rather than from the protocol's minimum alone (docs/design/cli.md, "wattfleet plan").
//
// Each job costs a fixed part (process start, module build, warm-up, idle power, window growth,
// cool-down, dispatch) and its timed windows. The fixed part is the mean, over the history,
// of the time between two results of one agent less the later job's timed windows.
// The timed part is the history's mean number of windows, each as long as the campaign's
// min_window_ms or the job's time per iteration, whichever is longer; the time per iteration
// is the history's for the same layer or architecture on the same device class, mode and dtype,
// scaled linearly from the nearest measured batch to the planned one (a rough scaling: per-
// iteration time grows more slowly than the batch on most devices, so this errs long).
#pragma once

#include <cstdint>
#include <string>

#include "wattfleet/common/status.h"
#include "wattfleet/plan/planner.h"

namespace wattfleet {

struct PlanTimeEstimate {
  double seconds = 0;            // over every job of the plan, on one agent
  int64_t history = 0;           // measurements the estimate rests on; 0: protocol minimum
  double fixed_s_per_job = 0;    // the mean fixed part
  double windows_per_job = 0;    // the mean number of timed windows
  int64_t jobs_with_own_time = 0;  // jobs whose subject was measured before (any batch)
  std::string basis;             // one sentence, for the reader
};

// From `db`'s measurements (an SQLite file or a postgresql:// URI). A dataset with fewer than
// 3 measurements gives the protocol's minimum, saying so. InvalidArgument naming --db when it
// is not a dataset.
Result<PlanTimeEstimate> EstimatePlanTime(const Plan& plan, const std::string& db);

}  // namespace wattfleet
