// `wattfleet publish` and `wattfleet import --package`: a dataset as a package, and back
// (docs/dataset.md, "Publishing" and "Importing a package").
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "wattfleet/package/publish.h"

namespace wattfleet {

struct PublishFlags {
  PublishOptions options;
  std::vector<std::string> campaigns;  // ids or names, as --campaign gives them
  bool json = false;
};

// What `publish --json` prints: {out, rows (per table), files}. InvalidArgument for bad flags
// or input (nothing written).
Result<nlohmann::json> PublishDocument(const PublishFlags& flags);
// What `import --package --json` prints: {package, source, identity, already_imported,
// ids_kept, campaigns, measurements, renamed_devices}. InvalidArgument for a package that is
// not one or was changed (nothing stored).
Result<nlohmann::json> ImportPackageDocument(const std::string& db, const std::string& dir);

// Exit 0 written, 2 bad flags or input (nothing written), 1 anything else.
int CmdPublish(const PublishFlags& flags);

// `wattfleet import --db D --package DIR`: a published package into a dataset (created when
// missing). Exit 0 stored (or stored before), 2 a package that is not one or was changed
// (nothing stored), 1 anything else.
int CmdImportPackage(const std::string& db, const std::string& dir, bool json);

}  // namespace wattfleet
