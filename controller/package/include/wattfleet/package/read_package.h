// A published package read back for `wattfleet import --package` (docs/dataset.md, "Importing
// a package"): every file it reads is checked against SHA256SUMS from the same bytes it
// parses, so that a changed file is refused before anything is stored.
#pragma once

#include <string>

#include "wattfleet/common/status.h"
#include "wattfleet/store/dataset_package.h"

namespace wattfleet {

// The package in folder `dir`. InvalidArgument naming the file (and line) for anything that is
// not a package as `wattfleet publish` writes it: a file whose SHA-256 is not SHA256SUMS's, a
// file missing from it, a path that leaves the folder or a link, a row that does not read.
Result<DatasetPackage> ReadPackage(const std::string& dir);

}  // namespace wattfleet
