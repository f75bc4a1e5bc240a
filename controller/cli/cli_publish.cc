#include "cli_publish.h"

#include <iostream>

#include <nlohmann/json.hpp>

#include "cli_commands.h"
#include "wattfleet/package/read_package.h"
#include "wattfleet/store/dataset_package.h"
#include "wattfleet/store/store.h"
#include "wattfleet/store/store_open.h"

namespace wattfleet {

// What `import --package --json` says of the import, beside the package's names.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(PackageImportOutcome, already_imported, ids_kept, campaigns,
                                   measurements, renamed_devices)

namespace {

int Fail(const Status& s) {
  std::cerr << "wattfleet: " << s.message() << "\n";
  return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

}  // namespace

Result<nlohmann::json> PublishDocument(const PublishFlags& flags) {
  PublishOptions o = flags.options;
  WF_ASSIGN_OR_RETURN(o.campaign_ids, OpenDatasetCampaigns(o.db, flags.campaigns));
  WF_ASSIGN_OR_RETURN(const PublishSummary summary, Publish(o));
  return nlohmann::json{{"out", summary.out}, {"rows", summary.rows}, {"files", summary.files}};
}

Result<nlohmann::json> ImportPackageDocument(const std::string& db, const std::string& dir) {
  // Every file is read and checked before the dataset is opened: a changed package stores
  // nothing, and a dataset that does not exist yet is not created for it.
  WF_ASSIGN_OR_RETURN(const DatasetPackage package, ReadPackage(dir));
  auto store = OpenStore(db);
  if (!store.ok()) return store.status().WithContext("--db");
  WF_ASSIGN_OR_RETURN(const PackageImportOutcome outcome, (*store)->ImportPackage(package));
  nlohmann::json doc = outcome;
  doc["package"] = dir;
  doc["source"] = package.source;
  doc["identity"] = package.identity;
  return doc;
}

int CmdPublish(const PublishFlags& flags) {
  auto doc = PublishDocument(flags);
  if (!doc.ok()) return Fail(doc.status());
  if (flags.json) {
    std::cout << doc->dump(2) << "\n";
    return 0;
  }
  const std::string out = (*doc)["out"];
  std::cout << "published " << out << ": " << (*doc)["files"].size() << " files\n";
  for (const auto& [table, rows] : (*doc)["rows"].items()) {
    std::cout << "  " << table << ": " << rows.get<int64_t>() << " rows\n";
  }
  std::cout << "check it with: (cd " << out << " && sha256sum -c SHA256SUMS)\n";
  return 0;
}

int CmdImportPackage(const std::string& db, const std::string& dir, bool json) {
  auto doc = ImportPackageDocument(db, dir);
  if (!doc.ok()) return Fail(doc.status());
  if (json) {
    std::cout << doc->dump(2) << "\n";
    return 0;
  }
  const std::string source = (*doc)["source"];
  if ((*doc)["already_imported"].get<bool>()) {
    std::cout << dir << ": already imported as '" << source << "', nothing stored\n";
    return 0;
  }
  std::cout << dir << ": " << (*doc)["measurements"].get<int64_t>() << " measurements of "
            << (*doc)["campaigns"].get<int64_t>() << " campaigns stored as '" << source << "'"
            << ((*doc)["ids_kept"].get<bool>() ? "" : " (with new ids)") << "\n";
  for (const auto& [from, to] : (*doc)["renamed_devices"].items()) {
    std::cout << "  device " << from << " stored as " << to.get<std::string>()
              << " (the name was taken)\n";
  }
  return 0;
}

}  // namespace wattfleet
