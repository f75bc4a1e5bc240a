// Embedded mode (`wattfleet run`): a controller and N real agent processes on this machine,
// talking over ZeroMQ on loopback, running one campaign to the end.
#pragma once

#include <ostream>
#include <string>

#include "wattfleet/common/status.h"
#include "wattfleet/plan/planner.h"

namespace wattfleet {

struct EmbeddedOptions {
  std::string campaign_path;
  std::string db_path = "wattfleet.db";
  std::string export_path;      // CSV of the campaign's measurements; empty: next to the db
  // One: several agents on one machine share its CPU package, and each sees the others'
  // work as interference in every window (docs/quickstart.md).
  int agents = 1;
  std::string sensor = "auto";  // passed to every agent
  double modeled_core_w = 0;    // passed to every agent when set (--modeled-core-w)
  int threads_per_agent = 0;    // 0: the machine's cores shared among the agents
  std::string log_dir;          // agents' logs; empty: next to the db
  // Create the folders of --db, --out and --log-dir when missing; otherwise a missing one is
  // an error (a typo in a path must not scatter new folders).
  bool make_dirs = false;
  int64_t max_campaign_jobs = kDefaultMaxCampaignJobs;
  // Start the campaign over even when the dataset holds an unfinished run of it (that one is
  // cancelled). Otherwise an unfinished campaign of the same name and plan is resumed.
  bool fresh = false;
  bool progress = true;         // show progress (progress.h)
  bool progress_bar = false;    // as a bar redrawn in place (`out` is a terminal), not lines
};

// Validates the campaign (InvalidArgument, nothing stored, when it is bad), stores it (or
// resumes the unfinished campaign of the same name and plan in the dataset), starts the agents, dispatches until every job has ended, prints the summary to `out` and writes the
// CSV export.
Status RunEmbedded(const EmbeddedOptions& options, std::ostream& out);

}  // namespace wattfleet
