// The dataset backends, one registry for everything that opens, checks or names a `--db`:
// each backend says which values it takes, how it opens each door to the data (the Store,
// the read side, the fitted models, the imports), and how messages and the run's files name
// it. Adding a backend is its own folder under controller/store/ with one descriptor function,
// and that function named in dataset_backends.cc.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "wattfleet/common/status.h"
#include "wattfleet/store/store.h"

namespace wattfleet {

class DatasetReader;
class ImportTable;
class ModelTable;

struct DatasetBackend {
  std::string_view name;  // "sqlite", "postgresql"
  std::string_view flag_help;  // what a --db of this backend is, for the help texts
  // A file on this machine: it has a folder (where `run` keeps its logs and spools), and a
  // command that only reads can tell a mistyped name from a dataset before opening it.
  bool local = false;
  bool (*takes)(std::string_view db) = nullptr;
  Result<std::unique_ptr<Store>> (*open_store)(const std::string& db,
                                               const StoreOpenOptions& options) = nullptr;
  Result<std::unique_ptr<DatasetReader>> (*open_reader)(const std::string& db) = nullptr;
  Result<std::unique_ptr<ModelTable>> (*open_models)(const std::string& db,
                                                     bool read_only) = nullptr;
  Result<std::unique_ptr<ImportTable>> (*open_imports)(const std::string& db) = nullptr;
  // `db` as messages show it (a URI loses its password).
  std::string (*label)(const std::string& db) = nullptr;
};

// Every backend, in the order they are asked; the last one (SQLite) takes any value.
const std::vector<DatasetBackend>& DatasetBackends();

// The backend that takes `db`.
const DatasetBackend& BackendFor(std::string_view db);

// What --db takes, every backend's flag_help joined: "SQLite file or postgresql:// URI".
std::string DatasetFlagHelp();

// For the commands that only read: InvalidArgument "--db D: no such dataset" when `db` names
// a local file that does not exist (a server's database is checked when it is opened).
Status RequireExistingDataset(const std::string& db);

}  // namespace wattfleet
