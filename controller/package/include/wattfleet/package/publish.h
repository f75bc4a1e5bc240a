// `wattfleet publish`: a dataset as a package another lab, a reviewer or a dataset venue can
// take as it is (docs/dataset.md, "Publishing"): the tables as CSV and JSON Lines, Croissant
// and Frictionless metadata, a datasheet, the provenance and SHA256SUMS.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "wattfleet/common/status.h"

namespace wattfleet {

struct PublishOptions {
  std::string db;   // the dataset (--db)
  std::string out;  // the package's folder: must not exist yet, or be empty
  std::vector<int64_t> campaign_ids;   // empty: every campaign
  std::string license;                 // an SPDX identifier, e.g. CC-BY-4.0
  std::string title;
  std::vector<std::string> creators;
  std::string description;
  std::string url;  // where the package will be found, when known
  // The publication date, YYYY-MM-DD: the one figure that differs between two publications
  // of the same data. Empty: today (UTC).
  std::string date;
};

struct PublishSummary {
  std::string out;
  std::map<std::string, int64_t> rows;  // per table
  std::vector<std::string> files;       // relative to out, sorted
};

// Writes the package of a dataset the caller has opened once as a Store (so that an older one
// is upgraded first), reading it through the read side in one snapshot. InvalidArgument (exit
// 2) for a bad option or an `out` that exists with something in it, or whose folder does not;
// nothing is left behind on any failure (the package is written in a sibling folder and
// renamed into place).
Result<PublishSummary> Publish(const PublishOptions& options);

// Whether `id` is an SPDX licence identifier as written (letters, digits, '.', '-', '+'), a
// LicenseRef-, or an expression of such joined by AND / OR / WITH.
bool LooksLikeSpdx(const std::string& id);

}  // namespace wattfleet
