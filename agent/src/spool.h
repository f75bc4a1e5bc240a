// The agent's result spool: every result is written to disk (fsynced) before it is sent and
// deleted only when the controller acknowledges it, so that a crash or a lost connection never
// loses a measurement. Results still in the spool are replayed after (re)connecting.
#pragma once

#include <string>
#include <vector>

#include "wattfleet/common/job.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

class Spool {
 public:
  // Creates `dir` when missing.
  static Result<Spool> Open(const std::string& dir);

  // Writes atomically (temporary file, fsync, rename, fsync of the directory).
  Status Put(const JobResult& result);
  // Removes the result of job + attempt; OK when absent.
  Status Remove(int64_t job_id, int32_t attempt);
  // Every spooled result, oldest job first. Unreadable files are reported in `errors` and
  // moved aside (suffix .corrupt), never deleted.
  std::vector<JobResult> List(std::vector<std::string>* errors = nullptr) const;

  const std::string& dir() const { return dir_; }

 private:
  explicit Spool(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

}  // namespace wattfleet
