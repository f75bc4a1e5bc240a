// Jobs that appear while a campaign runs. The dispatcher knows nothing of how they are
// chosen: active profiling (wattfleet/active/active_profiler.h) is one source, given to the
// dispatcher at start-up (DispatcherOptions::job_source), so that dispatch does not depend
// on the estimators that choose the jobs.
#pragma once

#include <vector>

#include "wattfleet/common/job.h"
#include "wattfleet/store/store.h"

namespace wattfleet {

class JobSource {
 public:
  virtual ~JobSource() = default;

  // A job ended (its measurement stored, or failed for good). Called on the dispatcher's
  // thread for every job that ends; cheap, the work waits for Run().
  virtual void JobEnded(const JobSpec& job) = 0;

  // The jobs to add now, already stored as queued jobs of their campaigns (the source writes
  // them through the same Store, inside the dispatcher's batch). Called once per loop pass
  // while !idle(), before the dispatcher decides whether a campaign is done. Never throws.
  virtual std::vector<ActiveJob> Run() = 0;

  // Nothing to do until another job ends.
  virtual bool idle() const = 0;
};

}  // namespace wattfleet
