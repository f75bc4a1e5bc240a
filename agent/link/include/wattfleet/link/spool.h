// The agent's result spool: every result is written to disk (fsynced) before it is sent and
// deleted only when the controller acknowledges it, so that a crash or a lost connection never
// loses a measurement. Results still in the spool are replayed after (re)connecting.
//
// Each record carries an HMAC-SHA256 of its body under a random key kept in the spool
// (.spool-key, mode 0600): a record edited by hand or damaged on disk fails it, is moved
// aside and reported, and its job is measured again. Whoever can read the key can forge a
// record: it guards against editing and decay, not against the agent's own account.
#pragma once

#include <string>
#include <vector>

#include "wattfleet/common/job.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

// A spool file that was refused (damaged, edited, not a record): its job is measured again.
struct SpoolRejection {
  int64_t job_id = 0;
  int32_t attempt = 0;
  std::string why;
};

class Spool {
 public:
  // Creates `dir` and its key when missing. A key file that is not a key is an error naming
  // it (removing it makes every spooled result be measured again).
  static Result<Spool> Open(const std::string& dir);

  // Writes atomically (temporary file, fsync, rename, fsync of the directory).
  Status Put(const JobResult& result);
  // Removes the result of job + attempt; OK when absent.
  Status Remove(int64_t job_id, int32_t attempt);
  // Every spooled result, oldest job first. Unreadable files are reported in `errors`;
  // records that fail their check are moved aside (suffix .corrupt), never deleted, and
  // listed in `rejected` when their name says which job they were.
  std::vector<JobResult> List(std::vector<std::string>* errors = nullptr,
                              std::vector<SpoolRejection>* rejected = nullptr) const;

  const std::string& dir() const { return dir_; }

 private:
  Spool(std::string dir, std::string key) : dir_(std::move(dir)), key_(std::move(key)) {}
  std::string dir_;
  std::string key_;  // HMAC key, 32 bytes
};

}  // namespace wattfleet
