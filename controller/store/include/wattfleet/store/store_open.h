// Opening the dataset that a --db flag names, through the backend that takes it
// (dataset_backend.h): a PostgreSQL connection URI or an SQLite file.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "wattfleet/store/store.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

// Connects and creates or migrates the schema (pg_store.cc). InvalidArgument for a malformed
// URI, and for a database without a wattfleet schema when `options.create_if_missing` is off;
// Unavailable when the server cannot be reached.
Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& conninfo,
                                                 const StoreOpenOptions& options = {});

// The Store of the backend that takes `db`.
Result<std::unique_ptr<Store>> OpenStore(const std::string& db,
                                         const StoreOpenOptions& options = {});

// `db` as messages may show it: a URI loses its password, a path stays as it is.
std::string DatasetLabel(const std::string& db);

}  // namespace wattfleet
