#include <unistd.h>

#include "wattfleet/store/dataset_backend.h"

namespace wattfleet {

// Each backend's descriptor, in its own folder (sqlite/, postgres/).
const DatasetBackend& PostgresBackend();
const DatasetBackend& SqliteBackend();

const std::vector<DatasetBackend>& DatasetBackends() {
  // SQLite last: it takes every value that no server backend claims.
  static const std::vector<DatasetBackend> kBackends = {PostgresBackend(), SqliteBackend()};
  return kBackends;
}

const DatasetBackend& BackendFor(std::string_view db) {
  for (const DatasetBackend& b : DatasetBackends()) {
    if (b.takes(db)) return b;
  }
  return DatasetBackends().back();
}

std::string DatasetFlagHelp() {
  // Listed as users meet them: the local file first.
  std::string help;
  const auto& all = DatasetBackends();
  for (auto b = all.rbegin(); b != all.rend(); ++b) {
    help += (help.empty() ? "" : " or ") + std::string(b->flag_help);
  }
  return help;
}

Status RequireExistingDataset(const std::string& db) {
  if (BackendFor(db).local && ::access(db.c_str(), F_OK) != 0) {
    return Status::InvalidArgument("--db " + db + ": no such dataset");
  }
  return Status::OK();
}

}  // namespace wattfleet
