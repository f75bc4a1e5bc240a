#include "cli_publish.h"

#include <iostream>

#include <nlohmann/json.hpp>

#include "cli_commands.h"
#include "wattfleet/package/read_package.h"
#include "wattfleet/store/dataset_package.h"
#include "wattfleet/store/store.h"
#include "wattfleet/store/store_open.h"

namespace wattfleet {
namespace {

int Fail(const Status& s) {
  std::cerr << "wattfleet: " << s.message() << "\n";
  return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

}  // namespace

int CmdPublish(const PublishFlags& flags) {
  PublishOptions o = flags.options;
  auto ids = OpenDatasetCampaigns(o.db, flags.campaigns);
  if (!ids.ok()) return Fail(ids.status());
  o.campaign_ids = *ids;
  auto summary = Publish(o);
  if (!summary.ok()) return Fail(summary.status());
  if (flags.json) {
    nlohmann::json doc = {{"out", summary->out}, {"rows", summary->rows},
                          {"files", summary->files}};
    std::cout << doc.dump(2) << "\n";
    return 0;
  }
  std::cout << "published " << summary->out << ": " << summary->files.size() << " files\n";
  for (const auto& [table, rows] : summary->rows) {
    std::cout << "  data/" << table << ".csv  " << rows << " rows\n";
  }
  std::cout << "check it with: (cd " << summary->out << " && sha256sum -c SHA256SUMS)\n";
  return 0;
}

int CmdImportPackage(const std::string& db, const std::string& dir, bool json) {
  // Every file is read and checked before the dataset is opened: a changed package stores
  // nothing, and a dataset that does not exist yet is not created for it.
  auto package = ReadPackage(dir);
  if (!package.ok()) return Fail(package.status());
  auto store = OpenStore(db);
  if (!store.ok()) return Fail(store.status().WithContext("--db"));
  auto outcome = (*store)->ImportPackage(*package);
  if (!outcome.ok()) return Fail(outcome.status());
  if (json) {
    nlohmann::json doc = {{"package", dir},
                          {"source", package->source},
                          {"identity", package->identity},
                          {"already_imported", outcome->already_imported},
                          {"ids_kept", outcome->ids_kept},
                          {"campaigns", outcome->campaigns},
                          {"measurements", outcome->measurements},
                          {"renamed_devices", outcome->renamed_devices}};
    std::cout << doc.dump(2) << "\n";
    return 0;
  }
  if (outcome->already_imported) {
    std::cout << dir << ": already imported as '" << package->source << "', nothing stored\n";
    return 0;
  }
  std::cout << dir << ": " << outcome->measurements << " measurements of "
            << outcome->campaigns << " campaigns stored as '" << package->source << "'"
            << (outcome->ids_kept ? "" : " (with new ids)") << "\n";
  for (const auto& [from, to] : outcome->renamed_devices) {
    std::cout << "  device " << from << " stored as " << to << " (the name was taken)\n";
  }
  return 0;
}

}  // namespace wattfleet
