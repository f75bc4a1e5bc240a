// The agent's copies of the model files its jobs name (Architecture::model_file), by
// checksum, in a private folder beside its spool. A job whose file the agent lacks waits
// while the file is fetched from the controller a part at a time (FETCH/CHUNK, protocol.h);
// the copy is checked against the campaign's checksum before any job runs it, and a file
// once fetched serves every later job that names it.
//
// Used from the agent's loop thread only; it sends nothing itself, but says what to send.
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "wattfleet/common/protocol.h"
#include "wattfleet/common/sha256.h"

namespace wattfleet {

class ModelCache {
 public:
  explicit ModelCache(std::string dir) : dir_(std::move(dir)) {}

  struct Step {
    std::vector<JobSpec> ready;      // jobs to run now, model_file.path set to the local copy
    std::vector<JobResult> failed;   // jobs whose file cannot be had: NACK them
    std::optional<FetchMsg> fetch;   // the part to ask the controller for next
  };
  // A job that arrives. A job without a model file is ready as it is.
  Step Accept(JobSpec job, double now);
  // A part of a file (or the controller's reason it cannot send it).
  Step OnChunk(const ChunkMsg& chunk, double now);
  // Jobs waiting on a file no part of which came for `timeout_s`: failed as TIMEOUT, so that
  // the controller may hand them to another agent.
  Step Expire(double now, double timeout_s);
  // On reconnect or drain: jobs not started are the controller's again. Partial files go.
  void Clear();
  bool empty() const { return downloads_.empty(); }

  // Where the checked copy of a file with this checksum lives.
  std::string PathOf(const std::string& sha256) const { return dir_ + "/" + sha256 + ".pt"; }

 private:
  struct Download {
    ModelFile file;
    std::vector<JobSpec> waiting;  // the first one's lease is what each FETCH asks under
    std::ofstream out;
    Sha256Stream hash;
    int64_t received = 0;
    double last_progress = 0;
  };
  // Every waiting job of `sha256` failed with `outcome` and `why`; the download dropped.
  void Fail(const std::string& sha256, Outcome outcome, const std::string& why, Step* step);
  FetchMsg NextFetch(const Download& d) const;

  std::string dir_;
  std::map<std::string, Download> downloads_;  // by checksum
};

}  // namespace wattfleet
